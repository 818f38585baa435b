"""Headless Chromium for the viewer's tests, and the README's screenshot of it.

Uses the system's Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``) through selenium
(the ``test`` extra); nothing is downloaded. :func:`browser_missing` says why the browser tests cannot run.

    python tests/browser.py hotpose_demo/sports2d_demo.html docs/viewer.png --frame 60   # the README's picture
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver")
BACKGROUND = (16, 16, 22)  # the canvases' background, #101016 in viewer.js

# [pixels differing from the background, a hash of all pixels, all pixels] of a canvas
CANVAS_STATS = """
const c = document.getElementById(arguments[0]), g = c.getContext("2d");
const d = g.getImageData(0, 0, c.width, c.height).data;
let n = 0, h = 0;
for (let i = 0; i < d.length; i += 4) {
  if (d[i] !== %d || d[i + 1] !== %d || d[i + 2] !== %d) n++;
  h = (Math.imul(h, 31) + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
}
return [n, h, c.width * c.height];
""" % BACKGROUND


def _find(names) -> str | None:
    for n in names:
        p = shutil.which(n) or (n if Path(n).is_file() else None)
        if p:
            return p
    return None


def browser_missing() -> str | None:
    """None when a headless browser can be driven here, else the reason it cannot."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if _find(BINARIES) is None:
        return "no Chromium installed (Debian: apt-get install chromium chromium-driver)"
    if _find(DRIVERS) is None:
        return "no chromedriver installed (Debian: apt-get install chromium-driver)"
    return None


def open_browser(width: int = 1200, height: int = 640):
    """A headless Chromium (selenium WebDriver) whose console messages can be read with get_log("browser")."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    opts.binary_location = _find(BINARIES)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(_find(DRIVERS)), options=opts)


def load(driver, page: Path, timeout: float = 10.0) -> None:
    """Open ``page`` and wait until the viewer has started."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(page).resolve().as_uri())
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return !!window.hotposeViewer"))


def errors(driver) -> list[str]:
    """The page's JavaScript errors and console errors so far."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def canvas_stats(driver, canvas: str) -> tuple[int, int, int]:
    return tuple(driver.execute_script(CANVAS_STATS, canvas))


def screenshot(page: Path, png: Path, frame: int | None = None, width: int = 1200, height: int = 560,
               colours: int = 96) -> Path:
    """A PNG of the viewer showing ``frame``, reduced to ``colours`` colours to keep the file small."""
    import io
    import time

    driver = open_browser(width, height)
    try:
        load(driver, page)
        if frame is not None:
            driver.execute_script("window.hotposeViewer.setFrame(arguments[0])", frame)
        time.sleep(1.0)  # frames of the strip decode asynchronously
        data = driver.get_screenshot_as_png()
    finally:
        driver.quit()
    try:
        from PIL import Image
        img = Image.open(io.BytesIO(data)).convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
        img.save(png, optimize=True)
    except ImportError:
        Path(png).write_bytes(data)
    return Path(png)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="a PNG of a hotpose viewer page, taken with headless Chromium")
    ap.add_argument("page")
    ap.add_argument("png")
    ap.add_argument("--frame", type=int)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=560)
    a = ap.parse_args()
    why = browser_missing()
    if why:
        raise SystemExit(f"browser.py: {why}")
    out = screenshot(Path(a.page), Path(a.png), a.frame, a.width, a.height)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
