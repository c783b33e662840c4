"""report.md and report.html: the metrics table (models side by side) and, per sample, the frames the model saw
next to the reference and every model's answer."""

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.diagnostics import DIAGNOSTIC_KEYS
from evaluation.metrics import METRIC_KEYS
from evaluation.scoring import COUNT_KEYS
from evaluation.summary_table import format_value


def _format(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}" if isinstance(value, float) else str(value)


def _answer(record: dict[str, Any]) -> str:
    if record["status"] != "ok":
        return f"ERROR: {record['error']}"
    flags = [flag for flag in ("empty", "repetitive") if record.get(flag)]
    return (record["prediction"] or "(empty)") + (f"  [{', '.join(flags)}]" if flags else "")


def _rows(records: Sequence[dict[str, Any]], models: Sequence[str]) -> list[dict[str, Any]]:
    """One row per sample: its first record's fields plus each model's answer."""
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        row = rows.setdefault(str(record["id"]), {"record": record, "answers": {}})
        row["answers"][record.get("model", "model")] = _answer(record)
    return list(rows.values())


def _markdown(results: dict[str, Any], rows: list[dict[str, Any]], models: Sequence[str], tool: str) -> str:
    lines = [
        "# Evaluation report",
        "",
        f"Scores ×100, {tool}.",
        "",
        "| metric | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    lines += [
        f"| {key} | " + " | ".join(_format(results[m]["metrics"][key]) for m in models) + " |" for key in METRIC_KEYS
    ]
    lines += [
        f"| {key} | " + " | ".join(format_value(key, results[m].get("diagnostics", {}).get(key)) for m in models) + " |"
        for key in DIAGNOSTIC_KEYS
    ]
    lines += [f"| {key} | " + " | ".join(str(results[m]["counts"][key]) for m in models) + " |" for key in COUNT_KEYS]
    lines += ["", "## Samples", ""]
    for row in rows:
        record = row["record"]
        lines += [f"### {record['id']}  `{record.get('video')}`", ""]
        if record.get("frames"):
            lines += [f"![frames the model saw]({record['frames']})", ""]
        lines += [f"- **reference**: {record['reference']}"]
        lines += [f"- **{model}**: {row['answers'].get(model, '')}" for model in models]
        lines.append("")
    return "\n".join(lines)


def _html(results: dict[str, Any], rows: list[dict[str, Any]], models: Sequence[str], tool: str) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(m)}</th>" for m in models)
    metric_rows = "".join(
        f"<tr><td>{key}</td>"
        + "".join(f"<td>{format_value(key, results[m].get(group, {}).get(key))}</td>" for m in models)
        + "</tr>"
        for group, keys in (("metrics", METRIC_KEYS), ("diagnostics", DIAGNOSTIC_KEYS), ("counts", COUNT_KEYS))
        for key in keys
    )
    sample_rows = []
    for row in rows:
        record = row["record"]
        image = f'<img src="{esc(record["frames"])}" alt="frames">' if record.get("frames") else "(no frames)"
        answers = "".join(f"<p><b>{esc(m)}</b>: {esc(row['answers'].get(m, ''))}</p>" for m in models)
        sample_rows.append(
            f"<tr><td>{esc(str(record['id']))}<br><small>{esc(str(record.get('video')))}</small></td><td>{image}</td>"
            f"<td><p><b>reference</b>: {esc(record['reference'])}</p>{answers}</td></tr>"
        )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Evaluation report</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:4px 8px;vertical-align:top}img{max-width:640px}</style></head><body><h1>Evaluation report</h1>"
        f"<p>Scores ×100, {esc(tool)}.</p><table><tr><th>metric</th>{head}</tr>{metric_rows}</table>"
        f"<h2>Samples</h2><table><tr><th>id</th><th>frames the model saw</th><th>captions</th></tr>"
        f"{''.join(sample_rows)}</table></body></html>\n"
    )


def write_report(output_dir: Path, records: Sequence[dict[str, Any]], summary: dict[str, Any]) -> tuple[Path, Path]:
    """report.md and report.html in ``output_dir`` (frame strips are referenced relative to it)."""
    models = list(summary["results"])
    rows = _rows(records, models)
    markdown_path, html_path = output_dir / "report.md", output_dir / "report.html"
    markdown_path.write_text(_markdown(summary["results"], rows, models, summary["metric_tool"]), encoding="utf-8")
    html_path.write_text(_html(summary["results"], rows, models, summary["metric_tool"]), encoding="utf-8")
    return markdown_path, html_path
