"""evaluate_model.py's command line: model, data and decoding options, plus ``key=value`` settings anywhere."""

import argparse
import os
from pathlib import Path

from evaluation.bootstrap import DEFAULT_RESAMPLES
from evaluation.generation import GenerationSettings
from plugins.run_config import is_override

DEFAULTS = GenerationSettings()


class OutputDirError(ValueError):
    """--output-dir cannot be created or written; the message names it."""


def check_output_dir(output_dir: Path) -> None:
    """Refuse an --output-dir that cannot take the outputs (under a file, or in a folder this user cannot write),
    before any model is loaded and without creating anything: a refused run leaves no folder behind."""
    existing = Path(os.path.abspath(output_dir))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        problem = f"{existing} is a file, not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable by this user"
    else:
        return
    raise OutputDirError(f"--output-dir {output_dir} cannot be written ({problem}); pass a folder you can write to")


def whole_number(minimum: int):
    """argparse type: a whole number of at least ``minimum`` (argparse names the flag in its error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int, non_negative_int = whole_number(1), whole_number(0)


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    """evaluate_model.py's command line; ``description`` is its usage text."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    model = parser.add_argument_group("model (defaults from --config when given)")
    model.add_argument("--base-model", help="hub id or local directory; the processor and template come from here")
    model.add_argument("--adapter-path", help="LoRA adapter directory (absent: evaluate the base model)")
    model.add_argument("--config", type=Path, help="training YAML: model, adapter (output_dir), template, video_*")
    model.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="settings on top of the config (or of the "
        "defaults without one), as for plugins.train: video_maxlen=4 cutoff_len=4096 ...",
    )
    model.add_argument("--template", help="LLaMA-Factory template (default: the config's, else qwen2_vl_exact)")
    model.add_argument("--compare-base", action="store_true", help="also evaluate the base model, side by side")
    model.add_argument(
        "--allow-base-mismatch",
        action="store_true",
        help="evaluate an adapter whose "
        "adapter_config.json or run_inputs.json names another base model than the one given",
    )
    model.add_argument(
        "--allow-guessed-settings",
        action="store_true",
        help="evaluate an adapter that has no run_inputs.json without --config: settings not given are guessed "
        "(project defaults), each named in a warning",
    )
    model.add_argument(
        "--allow-setting-mismatch",
        action="store_true",
        help="evaluate with explicit values that "
        "contradict the adapter's run_inputs.json (what it was trained with), base model included",
    )
    data = parser.add_argument_group("data and outputs")
    data.add_argument(
        "--test-data",
        type=Path,
        help="ShareGPT test set JSON (default: the held-out split of the "
        "dataset the run trained on, X_test beside X_train in its dataset_dir)",
    )
    data.add_argument(
        "--video-dir",
        type=Path,
        help="directory the test set's video paths are relative to (default: "
        "the run's media_dir, as LLaMA-Factory resolves them; else the current directory)",
    )
    data.add_argument(
        "--output-dir",
        type=Path,
        help="default: results/<config stem>, else results/ (score-only: the predictions file's directory)",
    )
    data.add_argument("--num-samples", type=positive_int, help="evaluate only the first N samples (default: all)")
    data.add_argument(
        "--allow-errors",
        action="store_true",
        help="exit 0 even if some samples errored (e.g. a "
        "corrupt clip); they are counted and left out of the metrics. Without it such a run exits 1",
    )
    data.add_argument(
        "--score-only",
        type=Path,
        metavar="PREDICTIONS",
        help="only score a predictions file (ours or LLaMA-Factory's generated_predictions.jsonl)",
    )
    data.add_argument(
        "--bootstrap",
        type=non_negative_int,
        default=DEFAULT_RESAMPLES,
        metavar="N",
        help="bootstrap resamples for the metrics' 95%% intervals and, with --compare-base, the paired "
        "adapter − base differences (fixed seed; 0: off)",
    )
    decoding = parser.add_argument_group("decoding (greedy unless --num-beams > 1)")
    decoding.add_argument("--batch-size", type=positive_int, default=DEFAULTS.batch_size)
    decoding.add_argument("--num-beams", type=positive_int, default=DEFAULTS.num_beams)
    decoding.add_argument("--max-new-tokens", type=positive_int, default=DEFAULTS.max_new_tokens)
    decoding.add_argument("--min-new-tokens", type=non_negative_int, default=DEFAULTS.min_new_tokens)
    decoding.add_argument("--repetition-penalty", type=float, default=DEFAULTS.repetition_penalty)
    decoding.add_argument("--no-repeat-ngram-size", type=non_negative_int, default=DEFAULTS.no_repeat_ngram_size)
    decoding.add_argument("--seed", type=int, default=DEFAULTS.seed)
    decoding.add_argument(
        "--num-workers", type=non_negative_int, default=2, help="DataLoader workers decoding clips ahead"
    )
    args = parser.parse_intermixed_args(argv)  # key=value anywhere among the options
    malformed = [item for item in args.overrides if not is_override(item)]
    if malformed:
        parser.error(f"expected key=value overrides, got {' '.join(malformed)}")
    if args.score_only and args.overrides:
        parser.error("--score-only takes no key=value overrides: it scores answers already made")
    if args.output_dir is None:
        args.output_dir = (
            args.score_only.parent if args.score_only else Path("results") / (args.config.stem if args.config else "")
        )
    return args
