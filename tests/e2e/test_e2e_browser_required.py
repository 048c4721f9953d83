"""Without Chromium the browser tests skip and say how to get it; under CI they fail (issue 15,
item 10: `make test` on a fresh machine passes, and CI still runs them)."""

from __future__ import annotations

import pytest

from . import test_e2e_partner_page as page


def test_missing_chromium_skips_naming_make_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page, "CHROMIUM", None)
    monkeypatch.delenv(page.REQUIRE_BROWSER_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        page.require_chromium()


def test_missing_chromium_fails_where_ci_requires_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page, "CHROMIUM", None)
    monkeypatch.setenv(page.REQUIRE_BROWSER_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="CI must run them"):
        page.require_chromium()


def test_present_chromium_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page, "CHROMIUM", "/usr/bin/chromium")
    page.require_chromium()  # neither skips nor fails
