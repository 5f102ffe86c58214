"""The browser tests' shared fixture: the app served on localhost (see test_dashboard_in_chromium)."""

from tests.browser.test_dashboard_in_chromium import app_server

__all__ = ["app_server"]
