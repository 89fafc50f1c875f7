"""Regenerate docs/page-resnet50.png, the screenshot of `cnncalc page resnet50` shown in docs/commands.md.

    python tools/page_screenshot.py        (needs Chromium; uses tests/browser.py)

layer1 is opened by a click, as a reader would, before the picture is taken.
"""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from browser import Browser  # noqa: E402


def main(out=os.path.join(ROOT, "docs", "page-resnet50.png"), width=1100, height=1150):
    page_file = os.path.join(tempfile.mkdtemp(), "resnet50.html")
    subprocess.run([sys.executable, "-m", "cnncalc", "page", "resnet50", "-o", page_file], cwd=ROOT, check=True)
    with Browser() as browser:
        page = browser.open("file://" + page_file)
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        page.click(*page.centre("tr[data-n='layer1'] td"))
        page.evaluate("window.scrollTo(0, 0)")
        picture = page.screenshot()
        assert not page.errors, page.errors
    with open(out, "wb") as handle:
        handle.write(picture)
    print(f"wrote {out} ({len(picture):,} bytes)")


if __name__ == "__main__":
    main()
