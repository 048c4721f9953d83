"""The partner page (static/partner.html) and the headers to serve it with.

The page has one inline script and one inline style and loads nothing else, so the Content
Security Policy allows exactly those (by SHA-256 hash) plus API calls to itself and the form POST
to the data bucket's endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


@cache
def partner_page_html() -> str:
    return (
        resources.files("witan.collect.requests").joinpath("static/partner.html").read_text(encoding="utf-8")
    )


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def partner_page_headers(upload_origin: str) -> dict[str, str]:
    """Response headers for the page. `upload_origin` is where presigned POSTs go, e.g.
    `https://witan-data.s3.eu-west-2.amazonaws.com` (the URL the presigner returns, without a path)."""
    page = partner_page_html()
    scripts = " ".join(_hash(s) for s in _SCRIPT.findall(page))
    styles = " ".join(_hash(s) for s in _STYLE.findall(page))
    csp = (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; img-src 'self' data:; "
        f"connect-src 'self' {upload_origin}; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",  # the URL holds the token
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Robots-Tag": "noindex",
    }
