"""report.md and report.html: what made the run, the metrics (models side by side), and every sample with the frames
the model saw, all of its references, each model's answer with its per-sample scores, and the error of a sample
that failed.

    from evaluation.report import write_report
    markdown_path, html_path = write_report(output_dir, records, summary)   # records: predictions.jsonl lines

report.html is built by evaluation.report_page (sort worst first, errors only, search, one page of rows at a time);
report.md is the same content as plain text. Frame strips stay where the run saved them (``frames/`` beside the
pages); per-sample scores come from evaluation.sample_scores.
"""

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from data.publish import write_text_atomic
from evaluation.diagnostics import DIAGNOSTIC_KEYS
from evaluation.frames import strip_layout
from evaluation.metrics import METRIC_KEYS
from evaluation.report_page import change_cell, identity_items, interval_note, metric_cell, render_page
from evaluation.run_identity import RunIdentity
from evaluation.sample_scores import SAMPLE_SCORE_NOTE, sample_scores
from evaluation.scoring import COUNT_KEYS

# ASCII controls, and backslashes (which browsers read as '/'): never in a path we write, often in a crafted link
_NOT_IN_LINKS = re.compile(r"[\x00-\x1f\x7f\\]")
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`\[\]()#!|])")  # what could form a link, image, code, heading or cell


def safe_link(value: Any) -> str | None:
    """``value`` when it may become a link or image source: an http(s) URL or a relative path; else None.

    The pages come from a predictions file, which --score-only reads from anywhere: a ``javascript:``, ``data:``
    or protocol-relative value must not become a link."""
    if not isinstance(value, str) or not value or _NOT_IN_LINKS.search(value) or value != value.strip():
        return None
    parts = urlsplit(value)
    if parts.scheme in ("http", "https"):
        return value if parts.netloc else None
    relative = not parts.scheme and not parts.netloc and not value.startswith("/") and ":" not in value.split("/")[0]
    return value if relative else None


def _md_text(value: Any) -> str:
    """``value`` as one line of markdown text: HTML escaped, the characters of links, code and headings escaped."""
    one_line = " ".join(str(value).split())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(one_line, quote=False))


def _answer(record: dict[str, Any], scores: Mapping[str, float] | None) -> dict[str, Any]:
    ok = record["status"] == "ok"
    return {
        "model": record.get("model", "model"),
        "text": record["prediction"] if ok else None,
        "error": None if ok else record.get("error") or "unknown error",
        "flags": [flag for flag in ("empty", "repetitive") if ok and record.get(flag)],
        "cider": scores["cider"] if scores else None,
        "bleu_4": scores["bleu_4"] if scores else None,
    }


def sample_rows(
    records: Sequence[dict[str, Any]], scores: Mapping[tuple[str, str], Mapping[str, float]]
) -> list[dict[str, Any]]:
    """One row per sample, in test-set order: its clip, frames, every reference, and each model's answer with its
    ``scores`` (evaluation.sample_scores); ``error`` is true when any model's answer errored."""
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        sample_id = str(record["id"])
        row = rows.get(sample_id)
        if row is None:
            row = rows[sample_id] = {
                "n": len(rows) + 1,
                "id": sample_id,
                "video": record.get("video"),
                "frames": safe_link(record.get("frames")),
                "refs": list(record.get("references") or [record["reference"]]),
                "answers": [],
                "error": False,
            }
        row["frames"] = row["frames"] or safe_link(record.get("frames"))
        row["answers"].append(_answer(record, scores.get((record.get("model", "model"), sample_id))))
        row["error"] = row["error"] or record["status"] != "ok"
    return list(rows.values())


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _answer_line(answer: dict[str, Any]) -> str:
    model = _md_text(answer["model"])
    if answer["error"] is not None:
        return f"- **{model}**: ERROR: {_md_text(answer['error'])}"
    flags = f"  [{', '.join(answer['flags'])}]" if answer["flags"] else ""  # ours: "]  (" forms no link
    scores = f"(CIDEr-D {_percent(answer['cider'])}, BLEU-4 {_percent(answer['bleu_4'])})"
    return f"- **{model}**: {_md_text(answer['text']) if answer['text'] else '(empty)'}{flags}  {scores}"


def _markdown(summary: Mapping[str, Any], identity: Sequence[tuple[str, Any]], rows: Sequence[dict[str, Any]]) -> str:
    results, models = summary["results"], list(summary["results"])
    lines = ["# Evaluation report", ""]
    lines += [f"- **{label}**: {'n/a' if value in (None, '') else _md_text(value)}" for label, value in identity]
    lines += ["", f"Scores ×100, {summary['metric_tool']}.", ""]
    delta = "base" in results and "adapter" in results
    columns = [*map(_md_text, models), *(["adapter − base"] if delta else [])]
    lines += ["| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for group, keys in (("metrics", METRIC_KEYS), ("diagnostics", DIAGNOSTIC_KEYS), ("counts", COUNT_KEYS)):
        for key in keys:
            cells = [metric_cell(results, m, group, key) for m in models]
            cells += [change_cell(results, group, key)] if delta else []
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += ["", _md_text(interval_note(summary)), "", "## Samples", "", SAMPLE_SCORE_NOTE, ""]
    for row in rows:
        lines += [f"### {_md_text(row['id'])}  {_md_text(row['video'])}", ""]
        if row["frames"]:  # safe_link'ed; percent-encoded so that no character of it is markdown
            lines += [f"![frames the model saw]({quote(row['frames'], safe='/:.-_~')})", ""]
        refs = [_md_text(ref) for ref in row["refs"]]
        lines += [f"- **reference**: {refs[0]}"] if len(refs) == 1 else ["- **references**:"]
        lines += [f"  {index}. {ref}" for index, ref in enumerate(refs, 1)] if len(refs) > 1 else []
        lines += [_answer_line(answer) for answer in row["answers"]]
        lines.append("")
    return "\n".join(lines)


def reports_line(markdown_path: Path, html_path: Path) -> str:
    """The line that ends a run: the page people open first, then the Markdown copy."""
    return f"report: {html_path} (open it in a browser; Markdown: {markdown_path})"


def write_report(
    output_dir: Path,
    records: Sequence[dict[str, Any]],
    summary: dict[str, Any],
    sections_html: str = "",
    run_dir: Path | None = None,
) -> tuple[Path, Path]:
    """report.md and report.html in ``output_dir`` (frame strips are referenced relative to it), written atomically.

    ``sections_html``: more of the page, already escaped, placed above the samples (the demo's attribute table);
    ``run_dir``: the folder of the run.json to name, when the report is written elsewhere (the demo's copy).

    ``summary`` is metrics.json's content (evaluation.scoring.write_metrics); the run.json of the output folder (or,
    for --score-only, of the folder holding the scored file), when there is one, adds the test set's content hash."""
    output_dir = Path(output_dir)
    rows = sample_rows(records, sample_scores(records))
    for row in rows:  # how many frames each strip holds and their size, so the page can show them one by one
        row["layout"] = strip_layout(output_dir / row["frames"]) if row["frames"] else None
    scored_file = (summary.get("score_only") or {}).get("predictions")  # --score-only: the run that made the file
    run = RunIdentity.read(run_dir or output_dir)
    run = run or (RunIdentity.read(Path(scored_file).parent) if scored_file else None)
    identity = identity_items(summary, run.to_json() if run else None, len(rows))
    markdown_path, html_path = output_dir / "report.md", output_dir / "report.html"
    write_text_atomic(markdown_path, _markdown(summary, identity, rows))
    write_text_atomic(html_path, render_page(summary, identity, rows, SAMPLE_SCORE_NOTE, sections_html))
    return markdown_path, html_path
