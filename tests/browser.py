"""A real headless browser for page tests: Debian's chromium driven by the playwright pip package (no download).

    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

Without chromium or playwright the test is skipped, loudly, on a workstation; in CI (REQUIRE_BROWSER=1, set by
.ci/run, which installs chromium) it fails instead, so the page is never silently untested.
"""

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")
INSTALL_HINT = "install it with `apt-get install -y chromium` and `pip install -r requirements.txt` (playwright)"


def _unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}: {INSTALL_HINT}")
    pytest.skip(f"BROWSER TESTS NOT RUN: {reason}; {INSTALL_HINT}")


@contextlib.contextmanager
def headless_chromium() -> Iterator:
    """A launched headless chromium (playwright Browser), closed afterwards; skips or fails as the module says."""
    executable = next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)
    if executable is None:
        _unavailable("no chromium on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
