"""Make docs/report.png: run ``obskit demo`` and photograph the report in headless Chromium.

Needs Debian's ``chromium`` and Playwright (``pip install '.[test]'``)::

    python docs/screenshot.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "obskit.cli", "demo", "-q"], cwd=tmp, check=True)
        page_file = Path(tmp) / "obskit-demo-report.html"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 1150})
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_selector(".main-svg")
            page.wait_for_timeout(500)
            page.screenshot(path=HERE / "report.png")
            browser.close()
    print(HERE / "report.png")


if __name__ == "__main__":
    main()
