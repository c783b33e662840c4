"""The preflight's measuring part: every sample of a training config tokenized, and its clips decoded, as training
will; what breaks training goes into a PreflightReport (plugins.preflight_report), nothing is printed or written.

    from plugins.preflight_measure import measure
    measured = measure(settings)                 # settings: the config as LLaMA-Factory reads it (dict)
    measured.report.offenders, measured.report.token_counts

plugins.preflight turns the report into a verdict (and --drop-offending output). Samples come through
LLaMA-Factory's dataset loader, the config's template and supervised encoder (plugins.llamafactory_boundary);
video tokens come from clip metadata. Clips are then decoded by plugins.decode_check, one process per CPU.
"""

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import av

import plugins
from plugins.decode_check import DecodeCheckError, decode_clips
from plugins.preflight_drop import raw_ids
from plugins.preflight_report import (
    CHAT_MARKUP,
    ENCODE_ERROR,
    TEXT_TRUNCATED,
    UNDECODABLE,
    UNREADABLE,
    VIDEO_TRUNCATED,
    Offender,
    PreflightError,
    PreflightReport,
)
from plugins.video_settings import SettingsError, check_video_settings
from video import VideoReadError

UNLIMITED_CUTOFF = 1 << 30
IRRELEVANT_TO_TOKENIZING = frozenset({"deepspeed", "bf16", "fp16", "pure_bf16"})
MAX_DETAIL = 300  # characters of LLaMA-Factory's message kept (it quotes the whole conversation)


@dataclass
class Measurement:
    """What measure() found, with what the drop step needs to rewrite the datasets."""

    report: PreflightReport
    datasets: dict[str, Any]  # dataset name -> LLaMA-Factory DatasetAttr, in the config's order
    data_args: Any  # LLaMA-Factory DataArguments (dataset_dir, cutoff_len, ...)


def _load_llamafactory(args: dict):
    """(model_args, data_args, training_args, tokenizer, processor, template) as training builds them."""
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    # Precision and DeepSpeed play no part in tokenizing; LLaMA-Factory refuses them here (bf16 without a GPU,
    # DeepSpeed outside a distributed launch), and the preflight runs in one process before torchrun starts.
    tokenizing_args = {key: value for key, value in args.items() if key not in IRRELEVANT_TO_TOKENIZING}
    model_args, data_args, training_args, _, _ = get_train_args(tokenizing_args)
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    return model_args, data_args, training_args, tokenizer_module["tokenizer"], tokenizer_module["processor"], template


def chat_format_problem(sample) -> str | None:
    """A media placeholder in an answer (a caption) or a chat/special token in any turn of an AlignedSample, or
    None. The user's own placeholders are LLaMA-Factory's to count against the sample's media (it raises)."""
    # Imported here: it loads LLaMA-Factory's constants.
    from data.caption_text import MEDIA_PLACEHOLDERS, chat_markup

    turns = [("system", sample.system or "")]
    turns += [(message["role"], message["content"]) for message in [*sample.prompt, *sample.response]]
    for role, text in turns:
        if role != "assistant":
            for placeholder in MEDIA_PLACEHOLDERS:
                text = text.replace(placeholder, "")
        problem = chat_markup(text)
        if problem is not None:
            return f"{role} turn holds a {problem}"
    return None


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= MAX_DETAIL else f"{text[:MAX_DETAIL]}..."


def _decode_offenders(samples: list, settings: dict, workers: int | None, report: PreflightReport) -> None:
    """Decode every clip of ``samples`` ((dataset, index, id, clip paths, tokens, video tokens)); add the failures."""
    clips = [video for sample in samples for video in sample[3]]
    try:
        check = decode_clips(clips, workers=workers, **settings)
    except DecodeCheckError as error:
        raise PreflightError(str(error), report) from None
    report.decode_check = check.summary()
    for name, index, sample_id, videos, tokens, video_tokens in samples:
        failed = [check.failures[video] for video in videos if video in check.failures]
        if failed:
            report.offenders.append(
                Offender(name, index, sample_id, videos, UNDECODABLE, tokens, video_tokens, "; ".join(failed))
            )


def measure(args: dict, decode_check: bool = True, decode_workers: int | None = None) -> Measurement:
    """Measure the config's datasets (``dataset`` and ``eval_dataset``); offenders are listed, not raised.

    Raises PreflightError only when it cannot measure (invalid settings, a decode worker died).
    ``decode_check=False`` reads clip headers only; ``decode_workers`` processes decode (default: one per CPU)."""
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.data.processor import SupervisedDatasetProcessor
    from tqdm import tqdm

    from frame_store.run_target import target_for_run
    from plugins.llamafactory_boundary import encode_sample, load_aligned_samples, processor_video_sampling

    try:
        check_video_settings(args)
    except SettingsError as error:
        raise PreflightError(f"invalid settings: {error}") from None
    plugins.register()
    model_args, data_args, training_args, tokenizer, processor, template = _load_llamafactory(args)
    store = target_for_run(args, template.mm_plugin)  # the decode check fills it; set before samples are counted
    untruncated = SupervisedDatasetProcessor(
        template=template,
        tokenizer=tokenizer,
        processor=processor,
        data_args=dataclasses.replace(data_args, cutoff_len=UNLIMITED_CUTOFF),
    )
    truncating = SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=processor,
                                            data_args=data_args)  # fmt: skip
    video_token = template.mm_plugin.video_token
    video_token_id = tokenizer.convert_tokens_to_ids(video_token) if video_token else None
    report = PreflightReport(cutoff_len=data_args.cutoff_len, template=data_args.template)
    names = list(dict.fromkeys((data_args.dataset or []) + (data_args.eval_dataset or [])))
    datasets = dict(zip(names, get_dataset_list(names, data_args.dataset_dir), strict=True))
    to_decode = []  # samples whose clips are read at training time: (dataset, index, id, clips, tokens, video)
    for name, attr in datasets.items():
        samples = load_aligned_samples(attr, model_args, data_args, training_args)
        ids = raw_ids(attr, data_args)
        for index, sample in enumerate(tqdm(samples, desc=f"preflight {name}", unit="sample")):
            report.n_samples += 1
            sample_id = ids[index] if index < len(ids) else str(index)
            videos = [str(video) for video in sample.videos]
            problem = chat_format_problem(sample)
            if problem is not None:
                report.offenders.append(Offender(name, index, sample_id, videos, CHAT_MARKUP, 0, 0, problem))
                continue
            try:
                input_ids = encode_sample(untruncated, sample)
            except (VideoReadError, av.FFmpegError, OSError) as error:
                report.offenders.append(Offender(name, index, sample_id, videos, UNREADABLE, 0, 0, str(error)))
                continue
            except ValueError as error:  # LLaMA-Factory refuses the sample (e.g. placeholders and media disagree)
                report.offenders.append(Offender(name, index, sample_id, videos, ENCODE_ERROR, 0, 0, _short(error)))
                continue
            video_tokens = input_ids.count(video_token_id) if video_token_id is not None else 0
            report.token_counts.append(len(input_ids))
            report.video_token_counts.append(video_tokens)
            clips = [str(video) for video in sample.videos if isinstance(video, (str, os.PathLike))]  # not frames
            to_decode.append((name, index, sample_id, clips, len(input_ids), video_tokens))
            if len(input_ids) > data_args.cutoff_len:
                kept_video = encode_sample(truncating, sample).count(video_token_id)  # None counts 0
                reason = VIDEO_TRUNCATED if kept_video < video_tokens else TEXT_TRUNCATED
                report.offenders.append(Offender(name, index, sample_id, videos, reason, len(input_ids), video_tokens))
    if decode_check:
        # The plugin reads frames with these processor settings (as LLaMA-Factory's get_mm_inputs hands them over).
        _decode_offenders(to_decode, {**processor_video_sampling(processor), "store": store}, decode_workers, report)
    return Measurement(report, datasets, data_args)
