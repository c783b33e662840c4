"""report.html in a real headless chromium (tests/browser.py): no horizontal overflow, frames load and enlarge,
worst first sorts by per-sample score, errors only and search filter, and 10,000 samples render one page at a time.

Reports are written by evaluation.report.write_report from synthetic predictions (no model): fast.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.frames import save_frame_strip
from evaluation.metrics import METRIC_KEYS
from evaluation.predictions import Prediction
from evaluation.report import write_report
from tests.browser import headless_chromium

pytestmark = pytest.mark.slow  # a real browser: make test-fast runs none

COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
SHAPES = ("circle", "square", "triangle", "star")
MOTIONS = ("moves up", "moves down", "moves left", "moves right")
FRAME_SIZE = (112, 168)  # height, width of one frame the model saw
REPO_ROOT = Path(__file__).resolve().parents[1]
LONG = "upupupupup" * 300  # a runaway answer with no break opportunity


def _strips(output_dir, count: int) -> list[str]:
    """``count`` frame strips of 8 coloured frames, saved as the run saves them."""
    names = []
    for index in range(count):
        frames = np.zeros((8, *FRAME_SIZE, 3), dtype=np.uint8)
        frames[..., index % 3] = np.linspace(40, 250, 8, dtype=np.uint8)[:, None, None]
        names.append(f"frames/strip-{index}.jpg")
        save_frame_strip(frames, output_dir / names[-1])
    return names


def synthetic_run(output_dir, samples: int, models=("base", "adapter"), errors_every: int = 7) -> list[dict]:
    """Records of a compare-base run: captions built from attributes, answers that get some of them wrong, every
    ``errors_every``-th sample errored, sample 3 with unbroken text everywhere; written report.md / report.html."""
    strips = _strips(output_dir, 6)
    records = []
    for i in range(samples):
        words = (COLOURS[i % 6], SHAPES[i % 4], MOTIONS[i % 4])
        references = (f"a {words[0]} {words[1]} {words[2]}", f"the {words[1]} is {words[0]} and {words[2]}")
        for m, model in enumerate(models):
            answer = f"a {COLOURS[(i * (m + 1)) % 6]} {SHAPES[(i // 3 + m) % 4]} {MOTIONS[(i // 2) % 4]}"
            errored = i % errors_every == errors_every - 1
            record = Prediction(
                id=f"clip-{i:05d}" if i != 3 else "clip-" + LONG,
                model=model,
                video=f"videos/{i // 50:06d}/{i:07d}.mp4" if i != 3 else f"videos/{LONG}.mp4",
                video_path=f"/data/videos/{i:07d}.mp4",
                prompt="<video>Describe this video.",
                reference=references[0],
                references=references if i != 3 else (LONG, *references),
                prediction=None if errored else answer if i != 3 else LONG,
                status="error" if errored else "ok",
                error=f"InvalidDataError: clip {i} is truncated" if errored else None,
                raw=None if errored else answer,
                empty=None if errored else False,
                repetitive=None if errored else i == 3,
                frames=strips[i % len(strips)],
            )
            records.append(record.to_json())
    results = {
        model: {"metrics": dict.fromkeys(METRIC_KEYS, 0.25), "diagnostics": {}, "counts": {"samples": samples}}
        for model in models
    }
    summary = {"results": results, "primary": models[-1], "metric_tool": "pycocoevalcap 1.2", "settings": {}}
    write_report(output_dir, records, summary)
    return records


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("report")
    return output_dir, synthetic_run(output_dir, 60)


def _open(browser, report_dir, width: int = 1280):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto((report_dir / "report.html").as_uri())
    page.wait_for_selector(".sample")
    return page


def _cider_of_rows(page, model: str) -> list[float | None]:
    values = page.eval_on_selector_all(
        f".sample .answer[data-model='{model}']", "ps => ps.map(p => p.querySelector('.score')?.dataset.cider ?? null)"
    )
    return [None if v in (None, "") else float(v) for v in values]


@pytest.mark.parametrize("width", [1280, 1400, 1920])
def test_no_horizontal_overflow_even_with_a_long_unbroken_caption(browser, small_report, width):
    page = _open(browser, small_report[0], width)
    assert page.locator(".sample", has_text=LONG[:50]).count() == 1  # the long row is on the page
    overflow = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert overflow[0] <= overflow[1], f"page is {overflow[0]} px wide in a {overflow[1]} px window"


def test_frames_load_large_and_enlarge_on_click(browser, small_report):
    page = _open(browser, small_report[0])
    page.locator(".frames img").first.scroll_into_view_if_needed()
    in_view = "[...document.querySelectorAll('.frames img')].filter(img => {const r = img.getBoundingClientRect(); "
    in_view += "return r.bottom > 0 && r.top < innerHeight})"
    page.wait_for_function(f"() => {in_view}.every(img => img.complete)")
    visible = page.evaluate(f"() => {in_view}.map(i => [i.naturalWidth, i.naturalHeight, i.clientHeight, i.loading])")
    assert visible and all(natural > 0 for natural, *_ in visible), visible
    assert all(natural_h == FRAME_SIZE[0] and shown >= 160 and lazy == "lazy" for _, natural_h, shown, lazy in visible)
    # all 8 frames of a strip, one tile each, each showing its own frame, none beyond the window's width
    tiles = (
        page.locator(".sample")
        .first.locator(".tile")
        .evaluate_all(
            "ts => ts.map(t => [t.getBoundingClientRect().left, t.getBoundingClientRect().right, t.clientHeight, "
            "t.querySelector('img').getBoundingClientRect().left])"
        )
    )
    width = 160 * FRAME_SIZE[1] / FRAME_SIZE[0]
    assert len(tiles) == 8 and all(right <= 1280 and height == 160 for _, right, height, _ in tiles)
    assert all(abs(image_left - (left - i * width)) < 1 for i, (left, _, _, image_left) in enumerate(tiles))
    page.locator(".frames img").first.click()
    assert page.locator("#lightbox").is_visible() and page.locator("#lightbox .tile").count() == 8
    assert page.locator("#lightbox .tile").first.evaluate("tile => tile.clientHeight") >= 2 * FRAME_SIZE[0]
    assert page.locator("#lightbox-open").get_attribute("href").endswith(".jpg")
    page.keyboard.press("Escape")
    assert not page.locator("#lightbox").is_visible()
    page.locator(".frames img").nth(3).click()
    page.locator("#lightbox .tile").first.click()  # a click on the enlarged frames closes them, opens nothing
    assert not page.locator("#lightbox").is_visible() and len(page.context.pages) == 1


def test_a_strip_without_its_frame_count_is_shown_whole(browser, tmp_path):
    """Strips saved before the count was written (or by another tool) still show, scrolling sideways."""
    records = synthetic_run(tmp_path, 3, models=("adapter",))
    Image.new("RGB", (8 * FRAME_SIZE[1], FRAME_SIZE[0])).save(tmp_path / records[0]["frames"])  # no comment
    write_report(tmp_path, records, {"results": {"adapter": {}}, "metric_tool": "t"})
    page = _open(browser, tmp_path)
    first = page.locator(".sample").first
    assert first.locator(".tile").count() == 0 and first.locator(".frames img").count() == 1
    assert first.locator(".frames img").evaluate("img => img.clientHeight") == 160


def test_worst_first_sorts_rows_by_score_ascending_errors_last(browser, small_report):
    page = _open(browser, small_report[0])
    page.select_option("#page-size", "200")
    before = _cider_of_rows(page, "adapter")
    page.click("#order-worst")
    scores = _cider_of_rows(page, "adapter")
    scored = [s for s in scores if s is not None]
    assert scored == sorted(scored) and scored != before[: len(scored)]
    assert scores == scored + [None] * (len(scores) - len(scored))  # errored samples (no score) last
    page.click("#order-best")
    assert [s for s in _cider_of_rows(page, "adapter") if s is not None] == sorted(scored, reverse=True)


def test_errors_only_shows_only_errored_rows(browser, small_report):
    page = _open(browser, small_report[0])
    page.check("#errors-only")
    errored = {r["id"] for r in small_report[1] if r["status"] == "error"}
    shown = page.eval_on_selector_all(
        ".sample", "rows => rows.map(r => [r.dataset.id, r.classList.contains('errored')])"
    )
    assert {row_id for row_id, _ in shown} == errored and all(flag for _, flag in shown)
    assert page.locator(".sample .error").first.text_content().startswith("ERROR: InvalidDataError")
    assert f"of 60 ({len(errored)} match)" in page.text_content("#count")


def test_search_filters_on_ids_and_captions(browser, small_report):
    page = _open(browser, small_report[0])
    page.fill("#search", "clip-00012")
    assert page.eval_on_selector_all(".sample", "rows => rows.map(r => r.dataset.id)") == ["clip-00012"]
    page.fill("#search", "purple star")
    texts: dict[str, str] = {}
    for r in small_report[1]:
        texts[r["id"]] = texts.get(r["id"], "") + " ".join([*r["references"], r["prediction"] or "", r["error"] or ""])
    expected = [sample_id for sample_id, text in texts.items() if "purple" in text and "star" in text]
    assert 0 < len(expected) < 50
    assert page.eval_on_selector_all(".sample", "rows => rows.map(r => r.dataset.id)") == expected


def test_ten_thousand_samples_render_one_page_of_rows(browser, tmp_path):
    synthetic_run(tmp_path, 10_000, models=("adapter",), errors_every=1000)
    page = _open(browser, tmp_path)
    assert page.locator(".sample").count() == 50
    assert "samples 1–50 of 10,000" in page.text_content("#count") and "page 1 of 200" in page.text_content("#count")
    page.click("#next")
    assert page.locator(".sample").first.get_attribute("data-id") == "clip-00050"
    assert page.locator(".sample").count() == 50
    assert page.evaluate("document.images.length") <= 50 * 8  # the frames of one page only


def test_screenshot_tool_writes_the_page_as_png(browser, small_report, tmp_path):
    """`python -m evaluation.report_screenshot REPORT OUT` as the README runs it (``browser``: skips without one)."""
    out = tmp_path / "docs" / "report.png"
    command = [sys.executable, "-m", "evaluation.report_screenshot", str(small_report[0] / "report.html"), str(out)]
    done = subprocess.run(
        [*command, "--height", "900"], capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (1280, 900)


def test_enlarged_frames_fit_the_window_in_a_grid(browser, small_report):
    """At 1280x800 the 8 enlarged frames are a grid of several columns, every one inside the window (no scrolling),
    each still at least twice the size the model saw."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((small_report[0] / "report.html").as_uri())
    page.wait_for_selector(".sample")
    page.locator(".frames img").first.click()
    boxes = page.locator("#lightbox .tile").evaluate_all(
        "ts => ts.map(t => { const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"
    )
    assert len(boxes) == 8
    assert all(left >= 0 and top >= 0 and right <= 1280 and bottom <= 800 for left, top, right, bottom in boxes), boxes
    columns, grid_rows = {round(left) for left, *_ in boxes}, {round(top) for _, top, *_ in boxes}
    assert len(columns) >= 3 and len(grid_rows) >= 2, boxes
    assert min(bottom - top for _, top, _, bottom in boxes) >= 2 * FRAME_SIZE[0]
    assert page.evaluate(
        "() => { const l = document.getElementById('lightbox'); return l.scrollHeight <= l.clientHeight; }"
    )


def test_export_csv_and_jsonl_hold_exactly_the_filtered_rows(browser, small_report):
    import csv
    import io
    import json

    page = _open(browser, small_report[0])
    page.fill("#search", "purple star")
    shown = page.eval_on_selector_all(".sample", "rows => rows.map(r => r.dataset.id)")
    with page.expect_download() as download_info:
        page.click("#export-jsonl")
    lines = Path(download_info.value.path()).read_text(encoding="utf-8").splitlines()
    exported = [json.loads(line) for line in lines]
    assert [row["id"] for row in exported] == shown  # fewer than a page: every match is shown
    assert {answer["model"] for answer in exported[0]["answers"]} == {"base", "adapter"}
    page.fill("#search", "")
    page.check("#errors-only")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    assert download_info.value.suggested_filename == "samples.csv"
    table = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    errored = list(dict.fromkeys(r["id"] for r in small_report[1] if r["status"] == "error"))
    assert [row["id"] for row in table] == errored
    assert table[0]["adapter_error"].startswith("InvalidDataError") and table[0]["error"] == "true"
    assert set(table[0]) >= {"n", "video", "references", "base_text", "adapter_cider", "adapter_bleu_4"}


def test_a_sample_link_opens_its_page_and_scrolls_to_it(browser, small_report):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((small_report[0] / "report.html").as_uri() + "#sample-57")  # on the second page of 50
    page.wait_for_selector("#sample-57")
    assert "page 2 of 2" in page.text_content("#count")
    assert page.evaluate("document.getElementById('sample-57').getBoundingClientRect().top") < 900
    assert page.get_attribute("#sample-57 .head a.n", "href") == "#sample-57"
    page.click("#sample-57 .head a.n")  # the link itself keeps the sample shown
    assert page.locator("#sample-57").count() == 1


def test_the_run_names_library_versions_and_what_the_brackets_are(tmp_path):
    from evaluation.report_page import identity_items, interval_note

    versions = {"torch": "2.7.1", "transformers": "5.6.0", "LLaMA-Factory": "0.9.5"}
    bootstrap = {"resamples": 1000, "seed": 0, "confidence": 0.95}
    summary = {"results": {}, "versions": versions, "bootstrap": bootstrap}
    items = dict(identity_items(summary, None, 3))
    assert items["versions"] == "torch 2.7.1, transformers 5.6.0, LLaMA-Factory 0.9.5"
    assert list(dict(identity_items(summary, None, 3)))[:2] == ["models", "versions"]  # at the top
    note = interval_note(summary)
    assert "95 % percentile bootstrap interval" in note and "1000 resamples, seed 0" in note
    assert "above 0 (by more than 5e-05: a smaller difference is a tie)" in note


def test_demo_page_shows_attributes_and_loss_above_the_samples(browser, tmp_path):
    from demo_report import demo_sections_html, plot_loss

    records = synthetic_run(tmp_path, 8)
    plot_loss({"train": [(1, 2.0), (2, 1.5), (3, 1.2)], "val": [(3, 1.4)]}, tmp_path / "loss.png")
    chance = {"colour": 0.25, "shape": 1 / 3, "direction": 0.25, "background": 0.25}
    table = {"chance": chance, "clips": 8, "base": dict.fromkeys(chance, 0.0), "finetuned": chance,
             "finetuned_reversed": chance}  # fmt: skip
    summary = {"results": {"base": {}, "adapter": {}}, "primary": "adapter", "metric_tool": "pycocoevalcap 1.2"}
    write_report(tmp_path, records, summary, demo_sections_html(table, "loss.png"))
    page = _open(browser, tmp_path)
    top = [
        page.evaluate(f"document.querySelector('{selector}').getBoundingClientRect().top")
        for selector in ("table.attributes", "img.loss", "#samples")
    ]
    assert top[0] < top[1] < top[2]  # attribute table, then loss curve, then the samples
    assert page.evaluate("document.querySelector('img.loss').naturalWidth") > 0  # loss.png beside the page loads
    assert "frames reversed" in page.text_content("table.attributes")
