"""A PNG of a report.html as a browser shows it (documentation: the README's screenshot), top of the page only.

    python -m evaluation.report_screenshot outputs/demo/eval/report.html docs/report.png
    python -m evaluation.report_screenshot REPORT.html OUT.png --width 1920 --height 1400 --order worst

Needs Debian's chromium (`apt-get install chromium`) and the playwright pip package (requirements.txt); no browser
download. ``--order worst`` clicks "worst first" before the shot.
"""

import argparse
import shutil
import sys
from pathlib import Path


def screenshot(report: Path, out: Path, width: int = 1280, height: int = 1100, order: str = "file") -> Path:
    """Open ``report`` in headless chromium at ``width`` × ``height``, wait for its frames, save ``out``."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("error: no chromium on PATH: `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(Path(report).resolve().as_uri())
        page.wait_for_selector(".sample")
        page.click(f"#order-{order}")
        page.wait_for_function(  # the frames in view have loaded
            "[...document.images].every(i => i.complete || i.getBoundingClientRect().top > innerHeight)"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report.html written by evaluate_model.py")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1100)
    parser.add_argument("--order", choices=("file", "worst", "best"), default="file", help="row order in the shot")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        sys.exit(f"error: {args.report} does not exist: pass the report.html of an evaluation output folder")
    print(screenshot(args.report, args.out, args.width, args.height, args.order))


if __name__ == "__main__":
    main()
