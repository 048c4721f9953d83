"""The council console's static files (built into `site/` by `make console`) and the headers to serve
them with.

The console is a single-page app: one HTML page, our ES modules and the vendored govuk-frontend and
chart library, all loaded from the page's own origin. Nothing is inline, so the Content Security Policy
allows scripts and styles from 'self' only; API calls go to 'self', presigned downloads and uploads to
the data bucket's origin, and the authorization-code exchange to the Cognito domain.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

SITE = "site"
INDEX = "index.html"
# Flat names only (no folders): the route takes one path segment, and this keeps `..` out.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}  # text only: every file goes through the API as text


class ConsoleNotBuilt(RuntimeError):
    """The site folder is missing: `make console` has not run."""


def _suffix(name: str) -> str:
    return name[name.rfind(".") :] if "." in name else ""


@cache
def console_file(name: str) -> tuple[bytes, str] | None:
    """A built file's bytes and content type, or None for a name the console does not have."""
    if not _NAME.match(name) or _suffix(name) not in CONTENT_TYPES:
        return None
    site = resources.files("witan.console").joinpath(SITE)
    if not site.is_dir():
        raise ConsoleNotBuilt("the console is not built: run `make console`")
    file = site.joinpath(name)
    if not file.is_file():
        return None
    return file.read_bytes(), CONTENT_TYPES[_suffix(name)]


def console_headers(name: str, *, upload_origin: str, auth_origin: str | None) -> dict[str, str]:
    """Security headers for one console file. The page itself is never cached (a new deployment is
    picked up at once); its assets may be for a short while."""
    connect = " ".join(o for o in ("'self'", upload_origin, auth_origin) if o)
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",  # the callback URL carries the authorization code
        "Cache-Control": "no-store" if name == INDEX else "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def console_config(*, auth_url: str | None, client_id: str | None) -> str:
    """What the page needs to sign in: the Cognito managed login endpoints and the app client (public:
    the authorization-code flow with PKCE has no client secret)."""
    if not auth_url or not client_id:
        return json.dumps({"signIn": None})
    base = auth_url.rstrip("/")
    return json.dumps(
        {
            "signIn": "cognito",
            "authorizeUrl": f"{base}/oauth2/authorize",
            "tokenUrl": f"{base}/oauth2/token",
            "logoutUrl": f"{base}/logout",
            "clientId": client_id,
            "scope": "openid email profile",
        }
    )
