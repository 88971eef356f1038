"""The page in headless Chromium at desktop and phone widths (integration: needs the system browser).

Selenium drives Debian's chromium through chromium-driver: the WebDriver session gives the console
log and, through Chrome's performance log, every network request the page made, without our own
DevTools client. A host resolver rule makes any name other than 127.0.0.1 unresolvable, and the test
still checks the log, so a request to another host fails the test instead of leaving the machine.

Two servers: the real service with the real champion of the local stack after an upload brought the
prices of the forecast served before (`scored_champion`: its track record has data), and the app on
a fake champion that carries a longer track record and a business-day calendar (served by werkzeug
in a thread), for what only a business-day series shows.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from service_fakes import FakeSource, make_bundle

from devstack.processes import wait_for
from gasforecast.platform.config import Settings
from service.app import create_app
from service.page import DEFAULT_WINDOW
from tests.stack_helpers import require, served_track_record

pytestmark = pytest.mark.integration  # a real browser: not part of the fast unit layer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--window-size=1366,900",
)
WIDTHS = (1366, 390)
MIN_TEXT_PX = 11

# Every element that shows text of its own, with its rendered font size (SVG text through its
# transform, so a chart scaled down to a phone would be caught).
_TEXT_SIZES = """
const sizes = [];
for (const el of document.body.querySelectorAll('*')) {
  const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  if (!own) continue;
  const style = getComputedStyle(el);
  if (style.display === 'none' || style.visibility === 'hidden' || !el.getClientRects().length) continue;
  if (el.closest('title, desc, script, style, details:not([open]) > :not(summary)')) continue;
  let px = parseFloat(style.fontSize);
  if (el instanceof SVGElement && el.getScreenCTM()) px *= Math.abs(el.getScreenCTM().d);
  sizes.push([el.tagName + (el.id ? '#' + el.id : '') + ':' + el.textContent.trim().slice(0, 30), px]);
}
return sizes;
"""


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


@pytest.fixture(scope="module")
def fake_service():
    """The app on a business-day champion with a track record, on a free loopback port."""
    from werkzeug.serving import make_server

    last_trading_day = date.today() - timedelta(days=1)
    while last_trading_day.weekday() > 4:
        last_trading_day -= timedelta(days=1)
    bundle = make_bundle(calendar="business", level=1_250_000.0, last_date=last_trading_day,
                         declaration={"target_label": "NBP front-month"})
    settings = Settings(forecast_horizon_max=90)
    app = create_app(settings, champion_source=FakeSource(bundle))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="fake-service", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _open(driver, url: str, width: int) -> None:
    """Load `url` in a viewport `width` CSS pixels wide (a phone below 600: mobile emulation)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.get(url)
    assert driver.execute_script("return window.innerWidth") == width


def _save_full_page(driver, name: str) -> Path:
    import base64

    OUTPUT.mkdir(exist_ok=True)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path = OUTPUT / name
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def _check_offline_and_quiet(driver) -> None:
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    urls = _requested_urls(driver)
    assert any(url.endswith("/static/charts.js") for url in urls)
    # chrome:// and data: URLs are the browser's own; anything that goes over a network must stay local.
    network = [url for url in urls if urlparse(url).scheme in {"http", "https", "ws", "wss", "ftp"}]
    assert [url for url in network if urlparse(url).hostname != "127.0.0.1"] == []


def _check_accuracy_and_choice(driver) -> None:
    """The headline accuracy and the gate's decision in words, with every cell filled."""
    from selenium.webdriver.common.by import By

    accuracy = driver.find_element(By.ID, "accuracy")
    assert accuracy.is_displayed() and "scored on data they had not seen" in accuracy.text
    choice = driver.find_element(By.ID, "model-choice")
    assert choice.find_element(By.CSS_SELECTOR, ".headline").text.strip()
    assert "Diebold–Mariano" in choice.text and "— / —" not in driver.find_element(By.TAG_NAME, "main").text


def _check_layout(driver, width: int) -> None:
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the {width} px screen"
    small = [(what, size) for what, size in driver.execute_script(_TEXT_SIZES) if size < MIN_TEXT_PX]
    assert small == [], f"text below {MIN_TEXT_PX} px at {width} px"
    wrapped = driver.execute_script(
        "return [...document.querySelectorAll('.figure time.date')].filter(t => t.getClientRects().length > 1)"
        ".map(t => t.textContent)")
    assert wrapped == [], "card dates wrap mid-date"
    spilled = driver.execute_script(
        "return [...document.querySelectorAll('.figure')].filter(f => f.scrollWidth > f.clientWidth)"
        ".map(f => f.textContent.trim().slice(0, 40))")
    assert spilled == [], "a figure card's content is wider than the card"


# Every y-axis label's box and the box of its chart's price line (CSS pixels): the labels live in a
# gutter left of the plot, so no box may overlap its line's.
_LABELS_AND_LINES = """
const out = [];
for (const frame of document.querySelectorAll('.chart-frame')) {
  const line = frame.querySelector('.line.history');
  if (!line) continue;
  const l = line.getBoundingClientRect();
  for (const label of frame.querySelectorAll('.tick-label')) {
    const b = label.getBoundingClientRect();
    out.push([frame.querySelector('.chart-svg').id, label.textContent, [b.left, b.top, b.right, b.bottom],
              [l.left, l.top, l.right, l.bottom]]);
  }
}
return out;
"""


def _check_labels_clear_of_the_lines(driver) -> None:
    boxes = driver.execute_script(_LABELS_AND_LINES)
    assert {chart for chart, *_ in boxes} >= {"fan-chart"}
    overlapping = [(chart, text) for chart, text, (left, top, right, bottom), (l_left, l_top, l_right, l_bottom) in boxes
                   if left < l_right and l_left < right and top < l_bottom and l_top < bottom]
    assert overlapping == [], "a y-axis label overlaps the price line's box"


def _history_points(driver) -> int:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "history-line").get_attribute("d").count("L") + 1


def _check_window_switch(driver, base_url: str) -> None:
    """The history-window links change the history the fan chart shows, without a script."""
    from selenium.webdriver.common.by import By

    shown = {}
    for name in ("1y", "all", "3m"):
        driver.find_element(By.CSS_SELECTOR, f'.window-switch a[href^="?window={name}"]').click()
        wait_for(lambda name=name: f"window={name}" in driver.current_url, 10, f"the {name} page", 0.1)
        current = driver.find_element(By.CSS_SELECTOR, '.window-switch a[aria-current="page"]')
        assert current.get_attribute("href").split("?")[1].startswith(f"window={name}")
        shown[name] = _history_points(driver)
    assert shown["3m"] < shown["1y"] <= shown["all"], shown
    driver.get(base_url + "/?window=%3Cb%3Ebold%3C/b%3E")
    assert "<b>bold</b>" not in driver.page_source and _history_points(driver) == shown[DEFAULT_WINDOW]


@pytest.fixture
def scored_champion_served(scored_champion, settings, gcs_emulator):
    """The scored champion served while the test runs (`gasforecast rollback`'s path): other tests on
    the same stack may have promoted a newer version since the session's scenario ran. The champion
    before is put back afterwards."""
    from gasforecast.platform.storage import Bucket
    from gasforecast.training.registry import Registry
    from gasforecast.training.retrain import roll_back

    registry, bucket = Registry(settings), Bucket(gcs_emulator.client, settings.data_bucket)
    before = registry.champion().version
    roll_back(settings, bucket, registry, scored_champion.version)
    yield scored_champion
    roll_back(settings, bucket, registry, before)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_real_champion_draws_offline_with_hover_at_desktop_and_phone_widths(browser, live_service,
                                                                                 scored_champion_served, width):
    scored_champion = scored_champion_served
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    wait_for(lambda: (lambda t: t and t["model"]["run_id"] == scored_champion.run_id and t["points"])(
        served_track_record(live_service.url)), 60, "the scored champion served", 0.5)
    _open(browser, live_service.url + "/", width)
    for element_id in ("history-line", "forecast-mean", "band-50", "band-80", "band-95"):
        path = browser.find_element(By.ID, element_id)
        assert path.get_attribute("d").startswith("M"), element_id
        box = path.rect
        # The procedure keeps "no change" unless a model beats it: a flat mean is a horizontal line.
        assert box["width"] > 50 and (box["height"] > 0 or element_id == "forecast-mean"), element_id

    chart = browser.find_element(By.ID, "fan-chart")
    ActionChains(browser).move_to_element_with_offset(chart, chart.size["width"] // 2 - 40, 0).perform()
    tooltip = browser.find_element(By.CSS_SELECTOR, "#fan-chart + .tooltip")
    assert tooltip.is_displayed() and "forecast" in tooltip.text
    assert "forecast" in browser.find_element(By.ID, "fan-chart-readout").text
    section = browser.find_element(By.ID, "track-record")
    assert section.is_displayed() and "closer than “no change”" in section.text
    for horizon in (7, 30):
        track_chart = browser.find_element(By.ID, f"track-chart-{horizon}")
        assert track_chart.is_displayed() and track_chart.size["width"] > 250
        assert track_chart.find_elements(By.CSS_SELECTOR, ".bars.band-80"), f"no scored {horizon}-day forecast drawn"
    assert section.find_element(By.CSS_SELECTOR, "table.scores-table").is_displayed()
    # the stack trains on the synthetic sample, declared as such: the page says so where it is first seen
    notice = browser.find_element(By.ID, "synthetic-notice")
    assert notice.is_displayed() and "Synthetic data" in notice.text
    assert "synthetic" in browser.find_element(By.TAG_NAME, "h1").text.lower()
    _check_accuracy_and_choice(browser)
    _check_layout(browser, width)
    _check_labels_clear_of_the_lines(browser)
    assert _save_full_page(browser, f"service-page-{width}.png").stat().st_size > 10_000
    _check_offline_and_quiet(browser)


@pytest.mark.parametrize("width", WIDTHS)
def test_track_record_page_reads_well_at_desktop_and_phone_widths(browser, fake_service, width):
    from selenium.webdriver.common.by import By

    _open(browser, fake_service + "/", width)
    section = browser.find_element(By.ID, "track-record")
    assert section.is_displayed() and "closer than “no change”" in section.text
    for horizon in (7, 30):
        chart = browser.find_element(By.ID, f"track-chart-{horizon}")
        assert chart.is_displayed() and chart.size["width"] > 250
        assert chart.find_element(By.CSS_SELECTOR, ".bars.band-80").rect["height"] > 20
    assert "NBP front-month" in browser.find_element(By.TAG_NAME, "h1").text
    assert not browser.find_elements(By.ID, "synthetic-notice")  # declared a market series, not synthetic
    assert "In 5 trading days" in browser.find_element(By.CLASS_NAME, "figures").text
    assert browser.find_element(By.CSS_SELECTOR, "#fan-chart .marker.today").is_displayed()
    # grouped digits on the y axis, never clipped to a run of zeros
    labels = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".chart-frame:has(#fan-chart) .y-gutter .tick-label")]
    assert labels and all("," in label for label in labels) and all(label != "000000" for label in labels)
    first_label = browser.find_element(By.CSS_SELECTOR, ".chart-frame:has(#fan-chart) .y-gutter .tick-label")
    assert first_label.rect["x"] >= 0
    _check_accuracy_and_choice(browser)
    _check_layout(browser, width)
    if width < 600:
        scrolls = "return arguments[0].scrollWidth > arguments[0].clientWidth"
        for fits in ("evaluation", "choice"):  # a few columns: the headings wrap, the table fits the phone
            assert not browser.execute_script(scrolls, browser.find_element(By.CSS_SELECTOR, f".scroll:has(> table.{fits})"))
        table = browser.find_element(By.CSS_SELECTOR, ".scroll:has(> table.scores-table)")
        assert browser.execute_script(scrolls, table)
        hint = table.find_element(By.XPATH, "preceding-sibling::p[1]")
        assert hint.is_displayed() and "sideways" in hint.text
    _check_labels_clear_of_the_lines(browser)
    _save_full_page(browser, f"service-page-track-record-{width}.png")
    _check_offline_and_quiet(browser)
    _check_window_switch(browser, fake_service)
    _check_layout(browser, width)
