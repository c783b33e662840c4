"""Before any GPU time: check every sample of a training config fits ``cutoff_len``, its text keeps the chat
format, and its clip's sampled frames really decode.

    python -m plugins.preflight configs/tiny_qwen2vl_demo.yaml                  # `make preflight`
    python -m plugins.preflight CONFIG.yaml cutoff_len=4096 video_maxlen=16     # key=value overrides the YAML
    python -m plugins.preflight CONFIG.yaml --drop-offending data/webvid_fit    # write the samples that pass
    python -m plugins.preflight CONFIG.yaml --skip-decode-check                 # headers only (said loudly)
    python -m plugins.preflight CONFIG.yaml --decode-workers 8                  # decode processes (default: CPUs)
    python -m plugins.preflight CONFIG.yaml --workers 8                         # token-count processes (default: CPUs)

    from plugins import preflight                                               # from Python (plugins.train)
    report = preflight.check(settings, preflight.PreflightOptions(decode_workers=8))   # raises PreflightError

It first prints where the model comes from (plugins.model_source: local folder, cached hub snapshot or hub
download; a model it cannot reach is one sentence) and checks the dataset files (plugins.dataset_files: an empty
split, e.g. after --val-ratio 0, or a file that is not a JSON list is named with the fix). The frame, pixel and
length settings are checked next (plugins.video_settings: an error names the key, the
value and the valid range). Then every clip's sampled frames are decoded with the reader training uses and the
same video_fps/video_maxlen (plugins.decode_check, one process per CPU), so a clip that passes cannot fail when
training reads it; the pass fills the run's frame store with the frames and each clip's metadata. Samples are
then loaded and tokenized exactly as training will (LLaMA-Factory's dataset loader, the config's template, its
mm_plugin's token expansion and its supervised encoder, with the config's video_* settings); video tokens come
from the clip metadata the store holds (a clip's header where it has none). --workers processes share the samples
(plugins.preflight_parallel, a progress bar with the samples/s); the report is the same for any number. Prints the
token-length distribution, the token-count and decode rates, then fails (PreflightError, exit 1) listing every
sample that cutoff_len would truncate, whose clip cannot be read or decoded, or whose text holds a media
placeholder or chat token that breaks the chat format (dataset, index, id, reason). With --drop-offending DIR it
writes the other samples to DIR (same dataset names, a dataset_info.json and dropped.json) and prints the
dataset_dir/media_dir overrides that train on them. Exit codes: 0 ok, 1 a sample would break training, 2 a bad
command line, 130 Ctrl-C. `python -m plugins.train` runs check() first, on the same arguments, and stops on its
PreflightError. Parts: plugins.preflight_measure (tokenize, decode: the report's content), plugins.preflight_encode
(one sample), plugins.preflight_parallel (over processes), plugins.preflight_report (the verdict and its
wording), plugins.preflight_drop (--drop-offending's output); this module joins them and holds the command line.
"""

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from plugins.pinned_bugs import pinned_bug_errors
from plugins.preflight_drop import write_without_offenders
from plugins.preflight_report import (
    MAX_LISTED,
    SKIPPED_DECODE_WARNING,
    PreflightError,
    PreflightReport,
    describe,
    error_message,
    format_report,
)
from plugins.run_log import log_libraries_to

PREFLIGHT_LOG_NAME = "preflight.log"  # beside training's train.log: library output a person does not act on
NUMBER_OPTIONS = ("--decode-workers", "--workers")  # the preflight's options that take a value
INTERRUPTED = "preflight interrupted (Ctrl-C): nothing was written"


@dataclass(frozen=True)
class PreflightOptions:
    """The preflight's own options (LLaMA-Factory's parser never sees them)."""

    drop_offending: Path | None = None  # write the passing samples there instead of failing
    decode_check: bool = True  # False: clip headers are read, frames are not decoded (said loudly)
    decode_workers: int | None = None  # decode processes (default: one per CPU)
    workers: int | None = None  # token-count processes (default: one per CPU); the report does not depend on it


def run(
    args: dict,
    drop_offending_to: Path | None = None,
    decode_check: bool = True,
    decode_workers: int | None = None,
    workers: int | None = None,
) -> PreflightReport:
    """Check the config's datasets (``dataset`` and ``eval_dataset``). Raises PreflightError if any sample fails,
    unless ``drop_offending_to`` is given: then the passing samples are written there and the report returned.
    ``decode_check=False`` reads clip headers only; ``decode_workers`` processes decode and ``workers`` processes
    count tokens (default: one per CPU each)."""
    # Imported here: measuring loads LLaMA-Factory, and decode-check processes re-import the __main__ module.
    from plugins.dataset_files import DatasetFileError, check_dataset_files
    from plugins.preflight_measure import measure

    refused = pinned_bug_errors(args)  # settings that hit a known bug of the pinned versions (flash_attn fa2)
    if refused:
        raise PreflightError("; ".join(refused))
    try:
        check_dataset_files(args)  # an empty or unreadable file, named before HF datasets fails on it
    except DatasetFileError as error:
        raise PreflightError(str(error)) from None
    measured = measure(args, decode_check=decode_check, decode_workers=decode_workers, workers=workers)
    report = measured.report
    if report.offenders:
        if drop_offending_to is None:
            raise PreflightError(error_message(report), report)
        write_without_offenders(report, measured.datasets, measured.data_args, Path(drop_offending_to))
    return report


def check(args: dict, options: PreflightOptions | None = None) -> PreflightReport:
    """run() with what a person reads: the skipped-decode warning, the report (printed also when it fails) and the
    samples dropped. Raises PreflightError, the verdict, for the caller to show: `python -m plugins.preflight`
    exits 1 with it, `python -m plugins.train` stops before training with it."""
    options = options or PreflightOptions()
    lora = _lora_summary(args)
    if not options.decode_check:
        print(SKIPPED_DECODE_WARNING, flush=True)
    try:
        report = run(
            args,
            drop_offending_to=options.drop_offending,
            decode_check=options.decode_check,
            decode_workers=options.decode_workers,
            workers=options.workers,
        )
    except PreflightError as error:
        if error.report is not None:
            print(format_report(error.report), flush=True)
        raise
    print(format_report(report), flush=True)
    print(f"  {lora}", flush=True)
    if report.offenders:
        for offender in report.offenders[:MAX_LISTED]:
            print(f"  dropped {describe(offender)}")
        media_dir = os.path.abspath(args.get("media_dir") or args.get("dataset_dir", "data"))
        print(
            f"wrote the other samples and dropped.json to {options.drop_offending}; train on them with:\n"
            f"  python -m plugins.train CONFIG.yaml dataset_dir={options.drop_offending} media_dir={media_dir}"
        )
    return report


def _lora_summary(args: dict) -> str:
    """What LoRA adapts, per part (plugins.lora_targets); PreflightError if it adapts a vision tower that is frozen."""
    from plugins.lora_targets import LoraTargetError, lora_summary
    from plugins.released_architectures import ModelConfigError

    try:
        return lora_summary(args)
    except (LoraTargetError, ModelConfigError) as error:
        raise PreflightError(str(error)) from None


def split_preflight_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """(training arguments, preflight-only options) of a `python -m plugins.train` command line.

    --skip-decode-check, --decode-workers N and --workers N are the preflight's; LLaMA-Factory's parser must not
    see them.
    """
    train_args: list[str] = []
    options: list[str] = []
    rest = iter(argv)
    for arg in rest:
        if arg == "--skip-decode-check" or arg.startswith(tuple(f"{option}=" for option in NUMBER_OPTIONS)):
            options.append(arg)
        elif arg in NUMBER_OPTIONS:
            options.append(arg)
            value = next(rest, None)  # none: parse_options says the option needs a number
            if value is not None:
                options.append(value)
        else:
            train_args.append(arg)
    return train_args, options


def _processes(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected a number of processes >= 1")
    return number


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--drop-offending",
        type=Path,
        metavar="DIR",
        help="write the samples that pass to DIR instead of failing, listing the dropped ones",
    )
    parser.add_argument(
        "--skip-decode-check",
        action="store_true",
        help="do not decode the clips' sampled frames (headers are still read): a damaged clip "
        "then stops training when it is reached",
    )
    parser.add_argument("--decode-workers", type=_processes, metavar="N", help="decode-check processes (default: CPUs)")
    parser.add_argument(
        "--workers", type=_processes, metavar="N", help="token-count processes (default: CPUs; same report for any N)"
    )


def _options(namespace: argparse.Namespace) -> PreflightOptions:
    return PreflightOptions(
        drop_offending=namespace.drop_offending,
        decode_check=not namespace.skip_decode_check,
        decode_workers=namespace.decode_workers,
        workers=namespace.workers,
    )


class _OptionsParser(argparse.ArgumentParser):
    """Reports a bad option as a PreflightError (for plugins.train) instead of exiting."""

    def error(self, message: str):
        raise PreflightError(message)


def parse_options(options: list[str]) -> PreflightOptions:
    """The preflight-only options split_preflight_options() took out of a training command line; PreflightError
    names a bad one (e.g. "argument --decode-workers: 0: expected a number of processes >= 1")."""
    parser = _OptionsParser(prog="preflight", add_help=False)
    _add_options(parser)
    return _options(parser.parse_args(options))


def parse_cli(argv: list[str]) -> tuple[dict, PreflightOptions]:
    """CONFIG.yaml [key=value ...] [--drop-offending DIR] [--skip-decode-check] [--decode-workers N] [--workers N]
    -> (merged config as LLaMA-Factory reads it, options); a bad command line exits 2 with the usage."""
    from plugins.run_config import RunConfigError, load_run_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="LLaMA-Factory training YAML")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, as for llamafactory-cli / plugins.train")
    _add_options(parser)
    namespace = parser.parse_args(argv)
    try:
        return load_run_config(namespace.config, namespace.overrides), _options(namespace)
    except RunConfigError as error:
        parser.error(str(error))


def main(argv: list[str] | None = None) -> None:
    """`python -m plugins.preflight CONFIG.yaml [key=value ...] [options]`; exit 1 if a sample would break training."""
    from plugins.model_source import ModelSourceError, describe_model_source

    args, options = parse_cli(sys.argv[1:] if argv is None else argv)
    try:  # before LLaMA-Factory loads the tokenizer: a model that cannot be found is one sentence, not a traceback
        print(f"model: {describe_model_source(str(args.get('model_name_or_path', '')))}", flush=True)
    except ModelSourceError as error:
        print(f"preflight FAILED: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    log_path = Path(args.get("output_dir") or ".") / PREFLIGHT_LOG_NAME
    if log_libraries_to(log_path):
        print(f"full log: {log_path}", flush=True)
    try:
        check(args, options)
    except PreflightError as error:
        print(f"preflight FAILED: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
