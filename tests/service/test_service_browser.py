"""The page in headless Chromium, served by the real service with a real champion (integration).

Selenium drives Debian's chromium through chromium-driver: the WebDriver session gives the console
log and, through Chrome's performance log, every network request the page made, without our own
DevTools client. A host resolver rule makes any name other than 127.0.0.1 unresolvable, and the test
still checks the log, so a request to another host fails the test instead of leaving the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
from tests.stack_helpers import require

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-output" / "service-page.png"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--window-size=1280,2000",
)


@pytest.fixture
def browser():
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
            "chromium and chromium-driver are needed: run scripts/install-system-packages.sh")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_page_draws_the_fan_chart_offline_without_console_errors(browser, live_service):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(live_service.url + "/")
    for element_id in ("history-line", "forecast-mean", "band-80", "band-95"):
        path = browser.find_element(By.ID, element_id)
        assert path.get_attribute("d").startswith("M"), element_id
        box = browser.execute_script("const b = arguments[0].getBBox(); return [b.width, b.height];", path)
        assert box[0] > 50 and box[1] > 0, element_id

    chart = browser.find_element(By.ID, "fan-chart")
    ActionChains(browser).move_to_element_with_offset(chart, chart.size["width"] // 2 - 40, 0).perform()
    tooltip = browser.find_element(By.ID, "tooltip")
    assert tooltip.is_displayed() and "forecast" in tooltip.text
    assert "forecast" in browser.find_element(By.ID, "chart-readout").text

    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    urls = _requested_urls(browser)
    assert any(url.endswith("/static/fanchart.js") for url in urls)
    # chrome:// and data: URLs are the browser's own; anything that goes over a network must stay local.
    network = [url for url in urls if urlparse(url).scheme in {"http", "https", "ws", "wss", "ftp"}]
    foreign = [url for url in network if urlparse(url).hostname != "127.0.0.1"]
    assert foreign == []
