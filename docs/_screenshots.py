"""Screenshots of the built site with headless Chromium, to look at how the pages render.

    python docs/_screenshots.py [--html docs/_build/html] [--out docs/_build/screenshots]

Takes the landing page, a tutorial, a gallery example and an API page (after
``make docs``), one PNG each, 1280 px wide. Needs a Chromium binary (``chromium``,
``chromium-browser`` or ``google-chrome`` on the PATH; Debian: ``apt-get install
chromium``); without one it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGES = {
    "landing": "index.html",
    "tutorial": "tutorials/dendrite.html",
    "gallery": "gallery/coba.html",
    "api": "api/generated/neurodyn.dyn.run.html",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=Path, default=HERE / "_build" / "html")
    ap.add_argument("--out", type=Path, default=HERE / "_build" / "screenshots")
    ap.add_argument("--height", type=int, default=2400, help="window height (px)")
    args = ap.parse_args()
    names = ("chromium", "chromium-browser", "google-chrome")
    browser = next((shutil.which(b) for b in names if shutil.which(b)), None)
    if browser is None:
        print("no Chromium on the PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    missing = [p for p in PAGES.values() if not (args.html / p).exists()]
    if missing:
        print(f"not built: {', '.join(missing)} under {args.html} (run make docs)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, page in PAGES.items():
        png = args.out / f"{name}.png"
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size=1280,{args.height}",
            f"--screenshot={png}",
            (args.html / page).resolve().as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        print(f"{name}: {page} -> {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
