"""Compare evaluation runs on the samples they share: every run's metrics with intervals, and paired differences.

    python -m evaluation.compare results/run_a results/run_b results/run_c
    python -m evaluation.compare results/run_a results/run_b --bootstrap 2000 --output comparison.json
    python -m evaluation.compare results/run_a results/run_b results/run_c --page comparison/ --sort run_c run_b

Each RUN_DIR is an evaluate_model.py output folder (its predictions.jsonl is read). Every model of every run is one
column (``run_a`` or, for a run with base and adapter, ``run_a:base`` and ``run_a:adapter``). Samples are matched
by content: the same id must have the same clip and the same references in every run, or the runs are refused (they
were made on different test sets). All columns are scored together, in one call, on the samples every run holds
and every model answered, so CIDEr-D's IDF is that of this common set: a run's numbers here can differ from its own
metrics.json when the runs cover different samples. Differences are paired (the same bootstrap resamples) against
the first column.

``--page DIR`` also writes DIR/comparison.html (evaluation.compare_page), one folder that opens from disk: the runs,
the same table, what each run's metrics.json and run.json record, then every shared sample with its references,
frames and each column's answer and per-sample scores, sorted by per-sample CIDEr-D of the last column minus the
first (``--sort FIRST SECOND``: another pair of column labels), biggest wins at the top, biggest losses at the bottom.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.publish import write_text_atomic
from evaluation.bootstrap import DEFAULT_RESAMPLES
from evaluation.compare_page import PAGE_FILE, SortPairError, sort_pair, write_comparison_page
from evaluation.metrics import MetricsError
from evaluation.predictions import PREDICTIONS_FILE, PredictionsFileError
from evaluation.ptb_tokenizer import TokenizerError
from evaluation.score_only import read_predictions_for_scoring
from evaluation.scoring import bootstrap_description, model_names, score_records
from evaluation.summary_table import summary_table


class CompareError(ValueError):
    """The runs cannot be compared (another test set, nothing in common, no predictions)."""


def sample_content(record: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two runs' samples the same sample: its clip and its references (the id is the key)."""
    return (record.get("video"), tuple(record.get("references") or [record["reference"]]))


def read_run(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / PREDICTIONS_FILE
    if not path.is_file():
        raise CompareError(f"{run_dir} has no {PREDICTIONS_FILE}: pass evaluate_model.py output folders")
    return read_predictions_for_scoring(path).records


def check_same_samples(labels: Sequence[str], runs: Sequence[list[dict[str, Any]]]) -> list[str]:
    """The ids every run holds, in the first run's order; refuses runs whose common ids differ in clip or refs."""
    contents = [{str(record["id"]): sample_content(record) for record in records} for records in runs]
    first = contents[0]
    for label, content in zip(labels[1:], contents[1:], strict=True):
        for sample_id in first.keys() & content.keys():
            if first[sample_id] != content[sample_id]:
                (clip_a, refs_a), (clip_b, refs_b) = first[sample_id], content[sample_id]
                what = f"clip {clip_a!r} vs {clip_b!r}" if clip_a != clip_b else f"references {refs_a} vs {refs_b}"
                raise CompareError(
                    f"{label} was made on another test set than {labels[0]}: sample {sample_id!r} differs ({what}); "
                    "compare runs of the same test set"
                )
    shared = [sample_id for sample_id in first if all(sample_id in content for content in contents[1:])]
    if not shared:
        raise CompareError(f"the runs {', '.join(labels)} have no sample id in common: nothing to compare")
    return shared


def run_labels(run_dirs: Sequence[Path]) -> list[str]:
    """Each run's folder name; where folders share a name, the shortest trailing part of their paths that tells
    every run apart (``outA/eval``, ``outB/eval``), the paths as given at worst."""
    paths = [Path(run_dir) for run_dir in run_dirs]
    for depth in range(1, max(len(path.parts) for path in paths) + 1):
        labels = [str(Path(*path.parts[-depth:])) for path in paths]
        if len(set(labels)) == len(labels):
            return labels
    return [str(path) for path in paths]


@dataclass(frozen=True)
class Columns:
    """The runs read and matched: every column's records of the shared samples (``model`` is the column label)."""

    runs: dict[str, Path]  # run label -> its folder
    column_runs: dict[str, str]  # column label -> its run's label
    shared: list[str]  # the ids every run holds, in the first run's order
    records: list[dict[str, Any]]

    @property
    def labels(self) -> list[str]:
        return list(self.column_runs)


def read_columns(run_dirs: Sequence[Path]) -> Columns:
    """Read every run, refuse runs of other test sets, keep the shared samples, one column per model of a run."""
    if len(run_dirs) < 2:
        raise CompareError("give at least two run folders to compare")
    labels = run_labels(run_dirs)
    runs = [read_run(run_dir) for run_dir in run_dirs]
    shared = check_same_samples(labels, runs)
    wanted, combined, column_runs = set(shared), [], {}
    for label, records in zip(labels, runs, strict=True):
        single = len(model_names(records)) == 1
        for record in records:
            if str(record["id"]) in wanted:
                column = label if single else f"{label}:{record.get('model', 'model')}"
                column_runs.setdefault(column, label)
                combined.append({**record, "model": column})
    return Columns(dict(zip(labels, map(Path, run_dirs), strict=True)), column_runs, shared, combined)


def score_columns(columns: Columns, resamples: int = DEFAULT_RESAMPLES) -> dict[str, Any]:
    """{"runs", "samples", "results" (score_records' shape, one entry per column), "bootstrap"}."""
    return {
        "runs": {label: str(run_dir) for label, run_dir in columns.runs.items()},
        "samples": len(columns.shared),
        "results": score_records(columns.records, resamples),
        "bootstrap": bootstrap_description(resamples),
    }


def compare_runs(run_dirs: Sequence[Path], resamples: int = DEFAULT_RESAMPLES) -> dict[str, Any]:
    """score_columns of read_columns: the comparison that the console prints and --output writes."""
    return score_columns(read_columns(run_dirs), resamples)


def _unwritable_page(page_dir: Path, error: OSError) -> str:
    return f"error: cannot write the page into {page_dir} ({error.strerror or error}); pass a --page DIR you can write"


def _make_page_dir(page_dir: Path) -> None:
    try:
        page_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(_unwritable_page(page_dir, error)) from None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    parser.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N", help="resamples (0: off)")
    parser.add_argument("--output", type=Path, help="also write the comparison as JSON to this file")
    parser.add_argument("--page", type=Path, metavar="DIR", help=f"also write DIR/{PAGE_FILE} (opens from disk)")
    parser.add_argument(
        "--sort",
        nargs=2,
        metavar=("FIRST", "SECOND"),
        help="order the page's samples by CIDEr-D of SECOND − FIRST, two column labels (default: last − first)",
    )
    args = parser.parse_args(argv)
    if args.bootstrap < 0:
        parser.error(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    if args.sort and not args.page:
        parser.error("--sort orders the page's samples: give --page DIR too")
    try:
        columns = read_columns(args.run_dirs)
        pair = sort_pair(columns.labels, args.sort)  # before the slow scoring: a typo fails at once
    except (CompareError, SortPairError, PredictionsFileError) as error:
        raise SystemExit(f"error: {error}") from None
    if args.page:
        _make_page_dir(args.page)  # an unwritable place fails before the scoring too
    try:
        comparison = score_columns(columns, args.bootstrap)
    except (MetricsError, TokenizerError) as error:
        raise SystemExit(f"error: {error}") from None
    print(
        f"{comparison['samples']} samples are in every run (same id, clip and references); those every model "
        "answered are scored together (counts below)"
    )
    print(summary_table(comparison["results"]))
    if args.output:
        write_text_atomic(args.output, json.dumps(comparison, indent=2) + "\n")
        print(f"comparison: {args.output}", file=sys.stderr)
    if args.page:
        per_sample = (columns.records, columns.shared, columns.column_runs)
        try:
            page = write_comparison_page(args.page, comparison, *per_sample, pair)
        except (MetricsError, TokenizerError) as error:
            raise SystemExit(f"error: {error}") from None
        except OSError as error:
            raise SystemExit(_unwritable_page(args.page, error)) from None
        print(f"page: {page} (open it in a browser; sorted by CIDEr-D of {pair[1]} − {pair[0]})", file=sys.stderr)
    return comparison


if __name__ == "__main__":
    main()
