"""Fixtures of the end-to-end tests: a real headless Chromium (tests/support/browser.py)."""

from tests.support.browser import browser  # noqa: F401 (a fixture)
