"""The comparison as a page: the runs, their metrics and identity, then every shared sample sorted by how much one
column beats another on it (per-sample CIDEr-D), to see where an adapter wins and where it loses.

    python -m evaluation.compare results/run_a results/run_b --page comparison/
    python -m evaluation.compare results/run_a results/run_b results/run_c --page comparison/ --sort run_c run_a

writes ``comparison/comparison.html`` and the frame strips it shows under ``comparison/comparison_frames/``: one
folder that opens from disk, with no script, no server and nothing fetched from the network. Captions are user text
and are escaped; a frame strip the predictions name by an http(s) URL becomes a link, never an image the page loads.
"""

import hashlib
import html
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from data.publish import fsync_dir, write_text_atomic
from evaluation.report import safe_link
from evaluation.report_page import ASSETS, identity_items
from evaluation.run_identity import RUN_FILE, RunIdentity
from evaluation.sample_scores import SAMPLE_SCORE_NOTE, sample_scores
from evaluation.scoring import METRICS_FILE
from evaluation.summary_table import table_rows

PAGE_FILE = "comparison.html"
FRAMES_DIR = "comparison_frames"  # not frames/: DIR may be a run folder, whose frames/ is the run's own
STRIP_NAME = re.compile(r"[0-9a-f]{20}(\.[a-z0-9]+)?")  # _copy_strip's names: the only files ever removed
NOT_A_RUN_FACT = {"report written"}  # identity_items' date of the page, not of the run
ANCHORS = {"win": "wins", "loss": "losses", "tie": "ties", "unscored": "unscored"}  # id of each kind's first row


class SortPairError(ValueError):
    """--sort names a column the comparison does not have."""


def sort_pair(labels: Sequence[str], requested: Sequence[str] | None) -> tuple[str, str]:
    """(first, second) of the difference rows are sorted by (second − first): ``requested``, else last − first."""
    if not requested:
        return labels[0], labels[-1]
    unknown = [label for label in requested if label not in labels]
    if unknown:
        raise SortPairError(
            f"--sort: {unknown[0]!r} is not a column of this comparison; the columns are {', '.join(labels)}"
        )
    if requested[0] == requested[1]:
        raise SortPairError(f"--sort needs two different columns, got {requested[0]!r} twice")
    return requested[0], requested[1]


def comparison_rows(
    records: Sequence[dict[str, Any]],
    shared: Sequence[str],
    scores: Mapping[tuple[str, str], Mapping[str, float]],
    pair: tuple[str, str],
) -> list[dict[str, Any]]:
    """One row per shared sample, sorted by CIDEr-D of pair[1] − pair[0] (biggest win first, biggest loss last),
    samples without both scores after them in test-set order. ``records``: every column's, ``model`` = column."""
    rows = {
        sample_id: {"n": n, "id": sample_id, "video": None, "refs": [], "answers": [], "frames": []}
        for n, sample_id in enumerate(shared, 1)
    }
    for record in records:
        row, column = rows[str(record["id"])], record["model"]
        row["video"] = row["video"] or record.get("video")
        row["refs"] = row["refs"] or list(record.get("references") or [record["reference"]])
        ok = record["status"] == "ok"
        score = scores.get((column, row["id"])) or {}
        row["answers"].append(
            {
                "column": column,
                "text": record["prediction"] if ok else None,
                "error": None if ok else record.get("error") or "unknown error",
                "cider": score.get("cider"),
                "bleu_4": score.get("bleu_4"),
            }
        )
    for row in rows.values():
        first, second = (scores.get((column, row["id"]), {}).get("cider") for column in pair)
        row["difference"] = None if first is None or second is None else second - first
    scored = sorted((r for r in rows.values() if r["difference"] is not None), key=lambda r: (-r["difference"], r["n"]))
    return scored + [row for row in rows.values() if row["difference"] is None]


def _copy_strip(source: Path, frames_dir: Path) -> str | None:
    """``source`` copied into ``frames_dir`` under a name made of its content (runs sharing a strip share the
    copy; an existing copy is already right), published by rename; its path relative to the page, or None."""
    try:
        content = source.read_bytes()
    except OSError:
        return None
    suffix = source.suffix.lower() if source.suffix[1:].isalnum() else ""
    name = f"{hashlib.sha256(content).hexdigest()[:20]}{suffix}"
    if not (frames_dir / name).is_file():
        frames_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=frames_dir, prefix=f".{name}.", suffix=".tmp", delete=False) as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(f.name, frames_dir / name)
        except BaseException:
            os.unlink(f.name)
            raise
    return f"{FRAMES_DIR}/{name}"


def attach_frames(
    rows: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    column_runs: Mapping[str, str],
    run_dirs: Mapping[str, Path],
    page_dir: Path,
) -> None:
    """Each row's ``frames``: [{"runs": [run labels], "src": a copy in the page folder, or "href": an http(s)
    URL}], one entry per distinct strip; strips the runs' reports carry (``frames`` of a record, relative to its run
    folder); a strip that is missing or unsafe as a link is left out."""
    strips: dict[str, dict[str, dict[str, Any]]] = {row["id"]: {} for row in rows}  # id -> src or URL -> strip
    copies: dict[Path, str | None] = {}
    for record in records:
        link, run = safe_link(record.get("frames")), column_runs[record["model"]]
        if link is None:
            continue
        if urlsplit(link).scheme in ("http", "https"):
            where = {"href": link}
        else:
            source = run_dirs[run] / link
            if source not in copies:
                copies[source] = _copy_strip(source, page_dir / FRAMES_DIR)
            if copies[source] is None:
                continue
            where = {"src": copies[source]}
        runs = strips[str(record["id"])].setdefault(where.get("src") or link, {**where, "runs": []})["runs"]
        if run not in runs:
            runs.append(run)
    for row in rows:
        row["frames"] = list(strips[row["id"]].values())


def _json_object(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def run_facts(run_dirs: Mapping[str, Path]) -> list[tuple[str, list[Any]]]:
    """(label, one value per run): models, versions, base model, adapter and its hash, settings, test set hash...
    as each run's metrics.json and run.json record them (evaluation.report_page.identity_items)."""
    per_run = []
    for run_dir in run_dirs.values():
        run = RunIdentity.read(run_dir)
        summary = _json_object(run_dir / METRICS_FILE) or {}
        items = identity_items(summary, run.to_json() if run else None, None)
        per_run.append([(label, value) for label, value in items if label not in NOT_A_RUN_FACT])
    labels = list(dict.fromkeys(label for items in per_run for label, _ in items))
    facts = [(label, [dict(items).get(label) for items in per_run]) for label in labels]
    return [(label, values) for label, values in facts if any(value not in (None, "") for value in values)]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _answer_html(answer: Mapping[str, Any], pair: tuple[str, str]) -> str:
    esc, column = html.escape, html.escape(answer["column"])
    marked = " pair" if answer["column"] in pair else ""
    head = f"<p class='answer{marked}' data-model='{column}'><span class='model'>{column}</span> "
    if answer["error"] is not None:
        return f"{head}<span class='error'>ERROR: {esc(answer['error'])}</span></p>"
    badge = f"<span class='score'>CIDEr-D {_percent(answer['cider'])} · BLEU-4 {_percent(answer['bleu_4'])}</span>"
    return f"{head}{badge} {esc(answer['text']) if answer['text'] else '(empty)'}</p>"


def _frames_html(strips: Sequence[Mapping[str, Any]]) -> str:
    esc, parts = html.escape, []
    for strip in strips:
        runs = esc(", ".join(strip["runs"]))
        if "src" in strip:
            image = f"<img loading='lazy' src='{esc(strip['src'])}' alt='frames {runs} saw'>"
            parts.append(f"<figure class='strip'><figcaption>{runs}</figcaption>"
                         f"<a href='{esc(strip['src'])}' target='_blank'>{image}</a></figure>")  # fmt: skip
        else:
            parts.append(
                f"<figure class='strip'><figcaption>{runs}</figcaption><a href='{esc(strip['href'])}' "
                "target='_blank' rel='noreferrer'>frames (remote file, not loaded)</a></figure>"
            )
    return f"<div class='frames'>{''.join(parts)}</div>" if parts else ""


def _kind(difference: float | None) -> str:
    """win, loss or tie of the second column of the pair; unscored when a column has no score."""
    if difference is None:
        return "unscored"
    return "win" if difference > 0 else "loss" if difference < 0 else "tie"


def _sample_html(rank: int, row: Mapping[str, Any], pair: tuple[str, str], anchor: str) -> str:
    """A sample's card; its element id is ``anchor`` (the first row of a kind: "losses") or sample-RANK. A jump
    must target the card itself: cards are laid out only near the view (content-visibility), so a marker before
    one would land among rows whose height was still a guess."""
    esc, difference = html.escape, row["difference"]
    kind, element_id = _kind(difference), anchor or f"sample-{rank}"
    shown = "n/a" if difference is None else "0.00" if difference == 0 else f"{100 * difference:+.2f}"
    head = (
        f"<div class='head'><a class='n' href='#{element_id}'>#{rank}</a>"
        f"<span class='difference' title='CIDEr-D {esc(pair[1])} − {esc(pair[0])} (×100)'>{shown}</span>"
        f"<span class='id'>{esc(row['id'])}</span><span class='video'>{esc(str(row['video'] or ''))}</span></div>"
    )
    refs = "".join(f"<li>{esc(ref)}</li>" for ref in row["refs"])
    what = "reference" if len(row["refs"]) == 1 else f"{len(row['refs'])} references"
    answers = "".join(_answer_html(answer, pair) for answer in row["answers"])
    return (
        f"<div class='sample {kind}' id='{element_id}' data-id='{esc(row['id'])}' "
        f"data-difference='{'' if difference is None else repr(difference)}'>{head}{_frames_html(row['frames'])}"
        f"<div class='captions references'><h3>{what}</h3><ol>{refs}</ol></div>"
        f"<div class='captions answers'><h3>answers</h3>{answers}</div></div>"
    )


def _interval_note(comparison: Mapping[str, Any]) -> str:
    bootstrap = comparison["bootstrap"]
    if not bootstrap.get("resamples"):
        return "No bootstrap intervals (--bootstrap 0)."
    no_interval = "; ".join(f"{key}: {why}" for key, why in (bootstrap.get("no_interval") or {}).items())
    return (
        f"[low, high]: {100 * bootstrap.get('confidence', 0.95):.0f} % percentile bootstrap interval over the shared "
        f"samples ({bootstrap['resamples']} resamples, seed {bootstrap.get('seed')}); X − first column: paired "
        f"difference on the same resamples, and the share of resamples in which it is above 0. {no_interval}."
    )


def render_comparison_page(
    comparison: Mapping[str, Any],
    facts: Sequence[tuple[str, Sequence[Any]]],
    rows: Sequence[Mapping[str, Any]],
    pair: tuple[str, str],
) -> str:
    """The whole page: runs, shared samples, the console's metric table, each run's facts, then ``rows`` in order."""
    esc = html.escape
    runs = "".join(f"<dt>{esc(label)}</dt><dd>{esc(folder)}</dd>" for label, folder in comparison["runs"].items())
    header, *body = table_rows(comparison["results"])
    metrics = "<tr>" + "".join(f"<th>{esc(cell)}</th>" for cell in header) + "</tr>"
    metrics += "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in body)
    facts_html = "<tr><th></th>" + "".join(f"<th>{esc(label)}</th>" for label in comparison["runs"]) + "</tr>"
    for label, values in facts:
        cells = "".join(f"<td>{'n/a' if value in (None, '') else esc(str(value))}</td>" for value in values)
        facts_html += f"<tr><th>{esc(label)}</th>{cells}</tr>"
    facts_html = (
        f"<table class='facts'>{facts_html}</table>"
        if facts
        else f"<p class='note'>No run has a {METRICS_FILE} or {RUN_FILE} recording what made it.</p>"
    )
    counts = dict.fromkeys(ANCHORS, 0)
    samples = []
    for rank, row in enumerate(rows, 1):
        kind = _kind(row["difference"])
        samples.append(_sample_html(rank, row, pair, "" if counts[kind] else ANCHORS[kind]))
        counts[kind] += 1
    first, second = (esc(label) for label in pair)
    summary = (
        f"<p class='verdict'><b>{second}</b> beats <b>{first}</b> on <b>{counts['win']}</b> samples (from the top), "
        f"loses on <b>{counts['loss']}</b>"
        + (" (<a href='#losses'>the losses</a>, the biggest at the very bottom)" if counts["loss"] else "")
        + f", ties on {counts['tie']}; {counts['unscored']} are not scored (a column has no answer)"
        + (" (<a href='#unscored'>after the losses</a>)" if counts["unscored"] else "")
        + f". Each sample's difference is CIDEr-D of {second} − {first} (×100); to sort by another pair, run again "
        "with --sort FIRST SECOND.</p>"
    )
    css = (ASSETS / "report.css").read_text(encoding="utf-8") + (ASSETS / "compare.css").read_text(encoding="utf-8")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Comparison: {second} − {first}</title><style>{css}</style></head><body>"
        f"<h1>Comparison of {len(comparison['runs'])} runs</h1><div class='top'><section><h2>Runs</h2>"
        f"<dl class='identity'>{runs}</dl><p>{comparison['samples']} samples are in every run (same id, clip and "
        "references); those every column answered are scored together (counts below).</p></section>"
        f"<section class='metrics-section'><h2>Metrics</h2><table class='metrics'>{metrics}</table>"
        f"<p class='note'>{esc(_interval_note(comparison))}</p></section></div>"
        f"<h2>What each run records</h2>{facts_html}"
        f"<h2>Samples: {second} − {first}</h2>{summary}<p class='note'>{esc(SAMPLE_SCORE_NOTE)}</p>"
        f"{''.join(samples)}</body></html>\n"
    )


def write_comparison_page(
    page_dir: Path,
    comparison: Mapping[str, Any],
    records: Sequence[dict[str, Any]],
    shared: Sequence[str],
    column_runs: Mapping[str, str],
    pair: tuple[str, str],
) -> Path:
    """``page_dir``/comparison.html and the strips it shows under ``page_dir``/comparison_frames/: strips first,
    the page last (each by rename), so a reader sees the old page or the new one with all its frames; strips that an
    earlier page showed and this one does not are removed after. ``records``, ``shared``, ``column_runs``: those of
    evaluation.compare.Columns."""
    page_dir = Path(page_dir)
    page_dir.mkdir(parents=True, exist_ok=True)
    run_dirs = {label: Path(folder) for label, folder in comparison["runs"].items()}
    rows = comparison_rows(records, shared, sample_scores(records), pair)
    attach_frames(rows, records, column_runs, run_dirs, page_dir)
    frames_dir, page = page_dir / FRAMES_DIR, page_dir / PAGE_FILE
    if frames_dir.is_dir():
        fsync_dir(frames_dir)  # the strips' renames are durable before the page that shows them
    write_text_atomic(page, render_comparison_page(comparison, run_facts(run_dirs), rows, pair))
    shown = {strip["src"] for row in rows for strip in row["frames"] if "src" in strip}
    if frames_dir.is_dir():
        for path in frames_dir.iterdir():
            if STRIP_NAME.fullmatch(path.name) and f"{FRAMES_DIR}/{path.name}" not in shown:
                path.unlink()
    return page
