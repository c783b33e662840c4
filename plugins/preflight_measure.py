"""The preflight's measuring part: every sample of a training config tokenized, and its clips decoded, as training
will; what breaks training goes into a PreflightReport (plugins.preflight_report), nothing is printed or written.

    from plugins.preflight_measure import measure
    measured = measure(settings)                 # settings: the config as LLaMA-Factory reads it (dict)
    measured.report.offenders, measured.report.token_counts

plugins.preflight turns the report into a verdict (and --drop-offending output). Samples come through
LLaMA-Factory's dataset loader, the config's template and supervised encoder (plugins.llamafactory_boundary);
video tokens come from clip metadata. Clips are decoded first, by plugins.decode_check (one process per CPU), which
fills the run's frame store with their frames and token metadata; samples are then measured by
plugins.preflight_encode on ``workers`` processes (plugins.preflight_parallel, one per CPU by default; the report
is the same for any number), reading that metadata from the store. So even a first preflight reads each clip's
header once (an unreadable clip, which the store cannot hold, once more, to name why).
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from llamafactory.data import get_template_and_fix_tokenizer
from llamafactory.data.parser import get_dataset_list
from llamafactory.hparams import get_train_args
from llamafactory.model import load_tokenizer

import plugins
from plugins.decode_check import DecodeCheck, DecodeCheckError, decode_clips, default_workers
from plugins.frame_source import builder_plugin, target_for_run, use_frame_source
from plugins.llamafactory_boundary import load_aligned_samples, processor_video_sampling
from plugins.preflight_drop import raw_ids
from plugins.preflight_encode import SampleEncoder
from plugins.preflight_parallel import SampleMeasurer
from plugins.preflight_report import UNDECODABLE, Offender, PreflightError, PreflightReport, token_count_summary
from plugins.time_axis import collapsed_time_warning
from plugins.video_settings import SettingsError, check_video_settings

IRRELEVANT_TO_TOKENIZING = frozenset({"deepspeed", "bf16", "fp16", "pure_bf16"})


@dataclass
class Measurement:
    """What measure() found, with what the drop step needs to rewrite the datasets."""

    report: PreflightReport
    datasets: dict[str, Any]  # dataset name -> LLaMA-Factory DatasetAttr, in the config's order
    data_args: Any  # LLaMA-Factory DataArguments (dataset_dir, cutoff_len, ...)
    decode_check: DecodeCheck | None = None  # None: skipped


@contextmanager
def datasets_progress_bars_hidden():
    """datasets draws a bar for each step of loading (on a first run "Generating train split", and LLaMA-Factory's
    "Converting format of dataset"): library chatter on the preflight's and the plan's console. Hidden while the
    block runs, then as they were (training's own loading is untouched); HF_DATASETS_DISABLE_PROGRESS_BARS=0 wins."""
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    hidden_before = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not hidden_before:
            enable_progress_bars()


def _load_llamafactory(args: dict):
    """(model_args, data_args, training_args, tokenizer, processor, template) as training builds them."""
    # Precision and DeepSpeed play no part in tokenizing; LLaMA-Factory refuses them here (bf16 without a GPU,
    # DeepSpeed outside a distributed launch), and the preflight runs in one process before torchrun starts.
    tokenizing_args = {key: value for key, value in args.items() if key not in IRRELEVANT_TO_TOKENIZING}
    model_args, data_args, training_args, _, _ = get_train_args(tokenizing_args)
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    return model_args, data_args, training_args, tokenizer_module["tokenizer"], tokenizer_module["processor"], template


def _decode_check(clips: list[str], settings: dict, workers: int | None, report: PreflightReport) -> DecodeCheck:
    """Decode every clip (filling the frame store ``settings["store"]`` where there is one); the check's summary
    goes into the report."""
    try:
        check = decode_clips(clips, workers=workers, **settings)
    except DecodeCheckError as error:
        raise PreflightError(str(error), report) from None
    report.decode_check = check.summary()
    return check


def _add_decode_offenders(samples: list, check: DecodeCheck, report: PreflightReport) -> None:
    """Samples ((dataset, index, id, clip paths, tokens, video tokens)) whose clips failed the decode check."""
    for name, index, sample_id, videos, tokens, video_tokens in samples:
        failed = [check.failures[video] for video in videos if video in check.failures]
        if failed:
            report.offenders.append(
                Offender(name, index, sample_id, videos, UNDECODABLE, tokens, video_tokens, "; ".join(failed))
            )


def measure(
    args: dict, decode_check: bool = True, decode_workers: int | None = None, workers: int | None = None
) -> Measurement:
    """Measure the config's datasets (``dataset`` and ``eval_dataset``); offenders are listed, not raised.

    Raises PreflightError only when it cannot measure (invalid settings, a worker died). ``workers`` processes
    count tokens (default: one per CPU), ``decode_workers`` decode (default: one per CPU); ``decode_check=False``
    reads clip headers only."""

    try:
        check_video_settings(args)
    except SettingsError as error:
        raise PreflightError(f"invalid settings: {error}") from None
    plugins.register()
    model_args, data_args, training_args, tokenizer, processor, template = _load_llamafactory(args)
    # The template's plugin reads the run's store from here on (the token count; training in this process); the
    # decode check fills it through a copy that reads none.
    source = use_frame_source(template.mm_plugin, args)
    store = target_for_run(source, args, template.mm_plugin)
    encoder = SampleEncoder(template, tokenizer, processor, data_args)
    report = PreflightReport(cutoff_len=data_args.cutoff_len, template=data_args.template)
    names = list(dict.fromkeys((data_args.dataset or []) + (data_args.eval_dataset or [])))
    datasets = dict(zip(names, get_dataset_list(names, data_args.dataset_dir), strict=True))
    counted = []  # samples with a length, whose clips training reads: (dataset, index, id, clips, tokens, video)
    workers = workers or default_workers()
    start = time.perf_counter()
    # Every dataset is loaded before the workers start: they are forked with them (plugins.preflight_parallel).
    with datasets_progress_bars_hidden():
        aligned = {
            name: load_aligned_samples(attr, model_args, data_args, training_args) for name, attr in datasets.items()
        }
    check = None
    if decode_check:
        # Before the count: the check opens every clip anyway and stores its token metadata, which the count then
        # reads instead of opening the clip again. The plugin reads frames with these processor settings (as
        # LLaMA-Factory's get_mm_inputs hands them over).
        clips = [clip for samples in aligned.values() for clip in samples.clip_paths()]
        settings = {**processor_video_sampling(processor), "store": store, "plugin": builder_plugin(template.mm_plugin)}
        decode_started = time.perf_counter()
        check = _decode_check(clips, settings, decode_workers, report)
        start += time.perf_counter() - decode_started  # the count's time and rate leave the decode check out
    with SampleMeasurer(encoder, aligned, workers) as measurer:
        for name, attr in datasets.items():
            for index, sample_id, measured in measurer.measure(name, raw_ids(attr, data_args)):
                report.n_samples += 1
                if measured.tokens is not None:
                    report.token_counts.append(measured.tokens)
                    report.video_token_counts.append(measured.video_tokens)
                    clips = list(measured.clips)
                    counted.append((name, index, sample_id, clips, measured.tokens, measured.video_tokens))
                if measured.offender is not None:
                    report.offenders.append(measured.offender)
    report.token_count = token_count_summary(report.n_samples, time.perf_counter() - start, workers)
    report.frames = source.describe([clip for samples in aligned.values() for clip in samples.clip_paths()])
    if check is not None:
        _add_decode_offenders(counted, check, report)
    warning = collapsed_time_warning(args, [clip for sample in counted for clip in sample[3]])
    report.warnings += [warning] if warning else []
    return Measurement(report, datasets, data_args, check)
