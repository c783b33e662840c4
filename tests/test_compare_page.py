"""evaluation.compare --page: rows sorted by the per-sample CIDEr-D difference of a pair of columns (--sort, refused
with the valid labels when unknown), captions escaped, a folder that opens from disk and loads nothing remote.

The pure parts run on hand-made scores (fast); the entry point scores real predictions with pycocoevalcap (slow),
and a headless chromium opens the page it wrote (slow).
"""

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from evaluation.compare import main, read_columns
from evaluation.compare_page import (
    SortPairError,
    attach_frames,
    comparison_rows,
    render_comparison_page,
    sort_pair,
)
from evaluation.frames import save_frame_strip
from evaluation.sample_scores import sample_scores
from evaluation.summary_table import table_rows

REFERENCES = {
    "s1": ["a cat sits on a mat", "a grey cat on a mat"],
    "s2": ["a dog runs in the park"],
    "s3": ["a red ball rolls on grass"],
    "s4": ["a man cooks pasta in a kitchen"],
    "s5": ["two people dance on a stage"],
}
SCRIPT = "<script>alert('x')</script>"


def record(sample_id, prediction, model="adapter", status="ok", frames=None):
    refs = REFERENCES[sample_id]
    return {"id": sample_id, "model": model, "video": f"clips/{sample_id}.mp4", "reference": refs[0],
            "references": refs, "prediction": prediction if status == "ok" else None, "status": status,
            "error": None if status == "ok" else "InvalidDataError: truncated clip", "frames": frames}  # fmt: skip


def write_run(folder, records, strips=True):
    """predictions.jsonl of ``records`` and, with ``strips``, a frame strip per sample under frames/."""
    folder.mkdir(parents=True)
    for r in records:
        if strips:
            r["frames"] = f"frames/{r['id']}.jpg"
            shade = 40 * int(r["id"][1:])
            save_frame_strip(np.full((4, 28, 42, 3), shade, dtype=np.uint8), folder / r["frames"])
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def comparison_of(labels):
    """The shape compare.score_columns gives, with one placeholder metric: what the page's top part reads."""
    results = {label: {"metrics": {"cider": 0.5}, "intervals": {}, "diagnostics": {}, "counts": {}} for label in labels}
    return {"runs": {label: f"results/{label}" for label in labels}, "samples": 5, "results": results,
            "bootstrap": {"resamples": 0}}  # fmt: skip


class Attributes(HTMLParser):
    """Every tag name and every (attribute, value) of a page."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.attributes = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]


class MetricCells(HTMLParser):
    """The text of each row of the page's metrics table."""

    def __init__(self, text):
        super().__init__()
        self.rows, self.inside, self.cell = [], False, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.inside = ("class", "metrics") in attrs
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th"):
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


# --sort: which pair orders the rows


def test_the_default_pair_is_the_last_column_minus_the_first():
    assert sort_pair(["a", "b:base", "b:adapter"], None) == ("a", "b:adapter")


def test_the_sort_flag_picks_another_pair():
    assert sort_pair(["a", "b:base", "b:adapter"], ["b:adapter", "b:base"]) == ("b:adapter", "b:base")


def test_an_unknown_sort_label_is_refused_naming_the_valid_ones():
    with pytest.raises(SortPairError, match=r"'b' is not a column of this comparison; the columns are a, b:base, c$"):
        sort_pair(["a", "b:base", "c"], ["a", "b"])
    with pytest.raises(SortPairError, match="two different columns, got 'a' twice"):
        sort_pair(["a", "c"], ["a", "a"])


def test_the_entry_point_refuses_an_unknown_sort_label_before_scoring(tmp_path):
    run_a = write_run(tmp_path / "run_a", [record("s1", "a cat")], strips=False)
    run_b = write_run(tmp_path / "run_b", [record("s1", "a dog")], strips=False)
    args = [str(run_a), str(run_b), "--page", str(tmp_path / "page")]
    with pytest.raises(SystemExit, match="error: --sort: 'run_c' is not a column .* the columns are run_a, run_b$"):
        main([*args, "--sort", "run_a", "run_c"])
    assert not (tmp_path / "page").exists()


def test_a_page_folder_that_cannot_be_made_is_one_clear_error_before_scoring(tmp_path):
    run_a = write_run(tmp_path / "run_a", [record("s1", "a cat")], strips=False)
    run_b = write_run(tmp_path / "run_b", [record("s1", "a dog")], strips=False)
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(SystemExit, match=r"^error: cannot write the page into .*taken \(.*\); pass a --page DIR"):
        main([str(run_a), str(run_b), "--page", str(tmp_path / "taken")])


def test_sort_without_a_page_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "a"), str(tmp_path / "b"), "--sort", "a", "b"])
    assert "--sort orders the page's samples: give --page DIR too" in capsys.readouterr().err


# rows: sorted by the difference


def test_rows_are_sorted_by_the_difference_biggest_win_first_unscored_last():
    cider = {"s1": (0.5, 0.5), "s2": (0.1, 0.9), "s3": (0.8, 0.2), "s4": (0.3, 0.4)}  # s5: first column errored
    scores = {(c, k): {"cider": v[i], "bleu_4": 0.0} for k, v in cider.items() for i, c in enumerate(("a", "b"))}
    records = [record(k, "x", m) for k in REFERENCES for m in ("a", "b") if (k, m) != ("s5", "a")]
    records.append(record("s5", None, "a", status="error"))
    rows = comparison_rows(records, list(REFERENCES), scores, ("a", "b"))
    assert [row["id"] for row in rows] == ["s2", "s4", "s1", "s3", "s5"]
    assert [row["difference"] for row in rows] == pytest.approx([0.8, 0.1, 0.0, -0.6, None])
    reversed_rows = comparison_rows(records, list(REFERENCES), scores, ("b", "a"))
    assert [row["id"] for row in reversed_rows] == ["s3", "s1", "s4", "s2", "s5"]


# escaping and no network


def _rows_with_script():
    records = [
        record("s1", SCRIPT, "a"),
        record("s1", "a cat", "b"),
        {**record("s2", None, "a", status="error"), "error": f"ValueError: {SCRIPT}", "video": f"clips/{SCRIPT}.mp4"},
        record("s2", "a dog", "b"),
    ]
    records[0]["references"] = [SCRIPT, "a cat"]
    scores = {("a", "s1"): {"cider": 0.1, "bleu_4": 0.0}, ("b", "s1"): {"cider": 0.2, "bleu_4": 0.0}}
    return comparison_rows(records, ["s1", "s2"], scores, ("a", "b"))


def test_captions_ids_labels_and_errors_are_escaped():
    rows = _rows_with_script()
    comparison = comparison_of(["a", "b"])
    comparison["runs"] = {"a": "results/a", "b": f"results/{SCRIPT}"}
    facts = [("base model", [SCRIPT, None])]
    page = render_comparison_page(comparison, facts, rows, ("a", "b"))
    assert "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    # answer, reference, error, clip path, run folder, a run's fact
    assert page.count(escaped) == 6
    assert "script" not in Attributes(page).tags


def test_the_page_loads_only_files_in_its_folder(tmp_path):
    """Frames are copied into the page's folder; an http(s) strip becomes a link only, a javascript: one nothing."""
    run_a, run_b = tmp_path / "run_a", tmp_path / "run_b"
    records = [
        record("s1", "a cat", "run_a", frames="frames/s1.jpg"),
        record("s1", "a dog", "run_b", frames="https://example.com/s1.jpg"),
        record("s2", "a cat", "run_a", frames="javascript:alert(1)"),
        record("s2", "a dog", "run_b", frames="frames/missing.jpg"),
    ]
    save_frame_strip(np.zeros((2, 28, 42, 3), dtype=np.uint8), run_a / "frames/s1.jpg")
    rows = comparison_rows(records, ["s1", "s2"], {}, ("run_a", "run_b"))
    page_dir = tmp_path / "page"
    attach_frames(rows, records, {"run_a": "run_a", "run_b": "run_b"}, {"run_a": run_a, "run_b": run_b}, page_dir)
    parsed = Attributes(render_comparison_page(comparison_of(["run_a", "run_b"]), [], rows, ("run_a", "run_b")))
    sources = [value for _, name, value in parsed.attributes if name == "src"]
    links = [value for tag, name, value in parsed.attributes if name == "href"]
    assert sources and all((page_dir / source).is_file() for source in sources)
    assert "https://example.com/s1.jpg" in links
    remote = [link for link in links if link.startswith(("http:", "https:", "//"))]
    assert remote == ["https://example.com/s1.jpg"]  # the user's own remote strip, as a link
    local = [link for link in links if not link.startswith("#") and link not in remote]
    assert local and all((page_dir / link).is_file() for link in local)
    assert not {"script", "link", "iframe", "object", "embed"} & set(parsed.tags)
    assert not any(name == "style" for _, name, _ in parsed.attributes)
    assert not any("javascript" in str(value) for _, _, value in parsed.attributes)


# the entry point, on real scores


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Two runs (the first with base and adapter) compared with --page, once by default and once with --sort."""
    root = tmp_path_factory.mktemp("compare")
    poor = {"s1": "a cat", "s2": "an animal runs", "s3": "a ball", "s4": "a man cooks pasta in a kitchen",
            "s5": "people"}  # fmt: skip
    good = {"s1": "a cat sits on a mat", "s2": "a dog runs", "s3": SCRIPT, "s4": "a man", "s5": "two people dance"}
    run_a = write_run(root / "run_a", [record(k, poor[k], m) for m in ("base", "adapter") for k in REFERENCES])
    run_b = write_run(root / "run_b", [record(k, good[k]) for k in REFERENCES])
    (run_b / "metrics.json").write_text(json.dumps({"versions": {"transformers": "5.6.0"}, "results": {"adapter": {}}}))
    main([str(run_a), str(run_b), "--bootstrap", "50", "--page", str(root / "page"), "--output", str(root / "c.json")])
    main([str(run_a), str(run_b), "--bootstrap", "0", "--page", str(root / "sorted"), "--sort", "run_b", "run_a:base"])
    return root


def _samples(page_dir: Path) -> list[tuple[str, float]]:
    parsed = Attributes((page_dir / "comparison.html").read_text(encoding="utf-8"))
    ids = [value for tag, name, value in parsed.attributes if name == "data-id"]
    differences = [value for tag, name, value in parsed.attributes if name == "data-difference"]
    return [(sample_id, float(d)) for sample_id, d in zip(ids, differences, strict=True)]


@pytest.mark.slow
def test_the_page_sorts_by_the_per_sample_cider_difference(compared):
    records = read_columns([compared / "run_a", compared / "run_b"]).records
    cider = {key: value["cider"] for key, value in sample_scores(records).items()}
    default = _samples(compared / "page")
    assert [sample_id for sample_id, _ in default] == sorted(
        REFERENCES, key=lambda k: -(cider[("run_b", k)] - cider[("run_a:base", k)])
    )
    for sample_id, difference in default:  # last column minus first
        assert difference == pytest.approx(cider[("run_b", sample_id)] - cider[("run_a:base", sample_id)])
    flipped = _samples(compared / "sorted")  # --sort run_b run_a:base: the same pair the other way round
    assert [sample_id for sample_id, _ in flipped] == [sample_id for sample_id, _ in reversed(default)]
    assert [d for _, d in flipped] == pytest.approx([-d for _, d in reversed(default)])


@pytest.mark.slow
def test_the_page_folder_holds_its_frames_the_table_and_each_runs_facts(compared):
    page_dir = compared / "page"
    text = (page_dir / "comparison.html").read_text(encoding="utf-8")
    parsed = Attributes(text)
    sources = {value for _, name, value in parsed.attributes if name == "src"}
    assert len(sources) == 5 and all((page_dir / source).is_file() for source in sources)  # shared by both runs
    copies = sorted(path.name for path in (page_dir / "comparison_frames").iterdir())
    assert copies == sorted(Path(source).name for source in sources)
    assert "5 samples are in every run" in text and "run_b − run_a:base" in text and "transformers 5.6.0" in text
    console = table_rows(json.loads((compared / "c.json").read_text())["results"])
    assert MetricCells(text).rows == console and any(">0 in" in row[-1] for row in console)  # the console's cells
    assert "<script" not in text.lower()


@pytest.mark.slow
def test_a_rerun_removes_strips_the_page_no_longer_shows(compared, tmp_path):
    page_dir = tmp_path / "page"
    stale = page_dir / "comparison_frames" / "0123456789abcdef0123.jpg"  # as a run of other runs left it
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    main([str(compared / "run_a"), str(compared / "run_b"), "--bootstrap", "0", "--page", str(page_dir)])
    sources = {value for _, name, value in Attributes((page_dir / "comparison.html").read_text()).attributes
               if name == "src"}  # fmt: skip
    assert {f"comparison_frames/{path.name}" for path in (page_dir / "comparison_frames").iterdir()} == sources


@pytest.mark.slow
def test_a_page_written_into_a_run_folder_leaves_the_runs_own_strips(tmp_path):
    run_a = write_run(tmp_path / "run_a", [record(k, "a cat") for k in ("s1", "s2")])
    run_b = write_run(tmp_path / "run_b", [record(k, "a dog") for k in ("s1", "s2")])
    strips = sorted((run_b / "frames").iterdir())
    main([str(run_a), str(run_b), "--bootstrap", "0", "--page", str(run_b)])
    assert sorted((run_b / "frames").iterdir()) == strips and (run_b / "comparison.html").is_file()


@pytest.mark.slow
def test_chromium_opens_the_page_from_disk_loading_nothing_else(compared):
    from tests.browser import headless_chromium

    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto((compared / "page" / "comparison.html").as_uri())
        page.wait_for_function("[...document.images].every(img => img.complete)")
        sizes = page.evaluate("[...document.images].map(img => img.naturalWidth)")
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        first = page.locator(".sample").first.get_attribute("data-id")
    assert len(sizes) == 5 and all(size > 0 for size in sizes)
    assert requested and all(url.startswith("file://") for url in requested), requested
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px window"
    assert first == _samples(compared / "page")[0][0]


@pytest.mark.slow
def test_ten_thousand_samples_open_and_the_losses_link_lands_on_the_first_loss(tmp_path):
    """Cards are laid out only near the view; a jump must still land exactly on its row."""
    ids = [f"clip-{i:05d}" for i in range(10_000)]
    records = [
        {"id": k, "model": m, "video": f"v/{k}.mp4", "reference": "a cat", "references": ["a cat", "the grey cat"],
         "prediction": f"a cat {m}", "status": "ok"}
        for k in ids for m in ("a", "b")
    ]  # fmt: skip
    cider = {(m, k): {"cider": ((i * 7919) % 1000) / 1000 if m == "b" else 0.5, "bleu_4": 0.0}
             for i, k in enumerate(ids) for m in ("a", "b")}  # fmt: skip
    rows = comparison_rows(records, ids, cider, ("a", "b"))
    first_loss = next(row["id"] for row in rows if row["difference"] < 0)
    page_file = tmp_path / "comparison.html"
    page_file.write_text(render_comparison_page(comparison_of(["a", "b"]), [], rows, ("a", "b")), encoding="utf-8")
    from tests.browser import headless_chromium

    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 600})
        page.goto(page_file.as_uri())
        assert page.locator(".sample").count() == 10_000
        page.click("a[href='#losses']")
        page.wait_for_function("Math.abs(document.getElementById('losses').getBoundingClientRect().top) < 2")
        at_top = page.evaluate("document.elementFromPoint(400, 20).closest('.sample').dataset.id")
    assert at_top == first_loss
