"""The real-browser fixtures of tests/browser (Debian's Chromium via Playwright)."""

from tests.browser.conftest import (  # noqa: F401 (fixtures)
    _allow_db_beside_playwrights_loop,
    artifacts,
    browser,
    login,
    new_page,
)
