"""Headless Chromium for tests: open a local file with the network cut off, then measure it.

Needs Debian's ``chromium`` and ``chromium-driver`` (or any Chrome/Chromium with a matching
chromedriver on PATH) and ``selenium`` from PyPI. ``unavailable()`` says why a browser test
must skip; nothing here downloads anything (Selenium Manager is never asked to).
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _timeouts import GUARD

__all__ = ["unavailable", "offline_chromium", "figure_boxes", "severe_logs", "resource_urls",
           "screenshot"]

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--no-first-run", "--no-default-browser-check", "--disable-extensions",
          "--hide-scrollbars", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
          "--window-size=1280,1000")


def _browser_binary() -> str | None:
    for name in _BROWSERS:
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def _driver_binary() -> str | None:
    if path := shutil.which("chromedriver"):
        return path
    return "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").is_file() else None


def unavailable() -> str | None:
    """Why a browser test cannot run here (every missing piece, a reason to pytest.skip), or
    None if it can."""
    missing = []
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium (pip install selenium)")
    if _browser_binary() is None:
        missing.append("a chromium binary (apt-get install chromium)")
    if _driver_binary() is None:
        missing.append("chromedriver (apt-get install chromium-driver)")
    return f"missing: {', '.join(missing)}" if missing else None


@contextmanager
def offline_chromium(user_data_dir: str | Path) -> Iterator:
    """A headless Chromium WebDriver with a fresh profile and every network request failing.

    Network access is cut twice: a proxy at a closed local port (so any http(s) fetch fails)
    and DevTools' offline network emulation.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _browser_binary()
    for flag in _FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={Path(user_data_dir).resolve()}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(_driver_binary()))
    try:
        driver.set_page_load_timeout(GUARD)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        yield driver
    finally:
        driver.quit()


_BOXES_JS = """
return Array.from(document.querySelectorAll('figure.plot')).map(function (f) {
  var r = f.getBoundingClientRect();
  var g = f.querySelector('svg, img');
  var gr = g ? g.getBoundingClientRect() : {width: 0, height: 0};
  return {id: f.id, width: r.width, height: r.height,
          tag: g ? g.tagName.toLowerCase() : null, graphic_width: gr.width,
          graphic_height: gr.height,
          children: g ? (g.tagName.toLowerCase() === 'img' ? (g.naturalWidth > 0 ? 1 : 0)
                                                          : g.querySelectorAll('*').length) : 0};
});
"""


def figure_boxes(driver) -> list[dict]:
    """Each <figure class="plot">: id, rendered size, its svg/img size and element count."""
    return driver.execute_script(_BOXES_JS)


def severe_logs(driver) -> list[dict]:
    """Browser console entries of level SEVERE (errors) since the last call."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def resource_urls(driver) -> list[str]:
    """Every sub-resource the page tried to load (images, styles, scripts, fonts...)."""
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) {return e.name;});")


def screenshot(driver, path: str | Path) -> Path:
    """A PNG of the whole page, beyond the viewport (DevTools Page.captureScreenshot)."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                 "scale": 1}})
    path = Path(path)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
