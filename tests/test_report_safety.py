"""A crafted predictions file (as --score-only reads one) cannot put script into the report pages.

Only http(s) URLs and relative paths become links or image sources; report.md shows ids, clip names, references,
answers and errors as text (no raw HTML, no markdown links or images of their own, one line each).
"""

import json

import pytest

from evaluation.report import safe_link, sample_rows, write_report

UNSAFE = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\x01javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/x.jpg",
    "/etc/passwd",
    "\\\\evil\\share\\x.jpg",
)
SAFE = ("frames/clip-1-0123456789.jpg", "https://example.com/x.jpg", "http://example.com/x.jpg", "a b/c.jpg")


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_links_are_dropped(value):
    assert safe_link(value) is None


@pytest.mark.parametrize("value", SAFE)
def test_http_and_relative_links_are_kept(value):
    assert safe_link(value) == value


def _crafted(frames: str, number: int = 0) -> dict:
    return {
        "id": f"<img src=x onerror=alert({number})>",
        "model": "adapter",
        "video": "clip.mp4</code><script>alert(2)</script>",
        "reference": "<script>alert(3)</script>",
        "references": [
            "<script>alert(3)</script>",
            "a [link](javascript:alert(4)) and ![img](javascript:alert(5))",
            "line one\n# a heading\n<b>bold</b>",
        ],  # fmt: skip
        "prediction": None,
        "status": "error",
        "error": "<iframe src=javascript:alert(6)>",
        "frames": frames,
    }


def test_sample_rows_keep_no_unsafe_frames_link():
    rows = sample_rows([_crafted("javascript:alert(1)")], {})
    assert rows[0]["frames"] is None
    assert sample_rows([_crafted("frames/ok.jpg")], {})[0]["frames"] == "frames/ok.jpg"


def test_crafted_records_put_no_script_into_either_page(tmp_path):
    summary = {"results": {"adapter": {"metrics": {}, "diagnostics": {}, "counts": {}}}, "primary": "adapter",
               "metric_tool": "pycocoevalcap 1.2", "settings": {}}  # fmt: skip
    markdown, page = write_report(tmp_path, [_crafted(value, i) for i, value in enumerate(UNSAFE)], summary)
    text = markdown.read_text()
    for raw in ("<script", "<img", "<iframe", "<b>", "](javascript", "](java", "\n# a heading"):
        assert raw not in text, raw
    assert r"&lt;script&gt;alert\(3\)&lt;/script&gt;" in text and r"line one \# a heading" in text
    rows = json.loads(page.read_text().split("<script type='application/json' id='rows'>")[1].split("</script>")[0])
    assert len(rows) == len(UNSAFE) and all(row["frames"] is None for row in rows)
