"""A real headless Chromium for the page tests (the wallboard, the role pages), and what they ask of it.

``browser`` is the fixture (tests/e2e/conftest.py takes it); it skips without Chromium and ChromeDriver, or fails
under CI (tests/support/tools.py). The viewport is 1920×1080 exactly, and the DevTools network log is on, so a
test sees every request a page makes (``requests_made``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.serving import served  # noqa: F401 (page tests without the pipeline)
from tests.support.tools import require_module, require_tool

webdriver = require_module("selenium.webdriver")  # a test extra: skips without it, or fails to collect under CI
from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("DESKPULSE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DESKPULSE_CHROMEDRIVER", "/usr/bin/chromedriver")
# The machine's network is closed: without these Chromium stalls on connection attempts.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1920,1080"]


@pytest.fixture
def browser(tmp_path):
    chromium, chromedriver = require_tool(CHROMIUM), require_tool(CHROMEDRIVER)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # the DevTools network events, so a test sees every request the page makes (``requests_made``)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=ChromeService(chromedriver), options=options)
    # the TV's viewport exactly, whatever the headless window's decorations
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    try:
        driver.get("about:blank")
        requests_made(driver)  # the start page's requests are not the page's
        yield driver
    finally:
        driver.quit()


def text(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text.strip()


def page_name(driver) -> str:
    """``wallboard`` for the page at /, else the first segment of its path (``team``, ``agent``, ``director``)."""
    return urlsplit(driver.current_url).path.strip("/").split("/")[0] or "wallboard"


def wait_for(driver, what: str, check, timeout: float = 20):
    """Wait until ``check(driver)`` is truthy; on timeout, say what the page showed (and keep a screenshot).

    A check that finds no element yet, or one the page replaced between finding and reading it (pages re-render
    on every update), is asked again: neither means the page will never show it."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
            lambda d: check(d))
    except Exception as error:
        name = page_name(driver)
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{name}-failure.png"))
        raise AssertionError(f"{name} never showed {what} ({type(error).__name__}); page text:\n"
                             f"{driver.find_element(By.TAG_NAME, 'body').text}") from None


def requests_made(driver) -> list[tuple[str, str]]:
    """(resource type, URL) of each request the page started since the last call: Document, Stylesheet, Script,
    EventSource, XHR, Fetch, ... (Chrome's performance log; reading it empties it)."""
    out = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            out.append((message["params"].get("type", "Other"), message["params"]["request"]["url"]))
    return out


def console_errors(driver) -> list[str]:
    """The page's console errors since the last call (a script error, a failed request)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(driver, name: str) -> Path:
    """The whole page (up to 3,000 px tall) at 1920 px wide, as ``test-artifacts/<name>.png``."""
    height = min(3000, driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": max(1080, height), "deviceScaleFactor": 1, "mobile": False})
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    return path
