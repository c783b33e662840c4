"""Before any GPU time: check every sample of a training config fits ``cutoff_len``, its text keeps the chat
format, and its clip's sampled frames really decode.

    python -m plugins.preflight configs/tiny_qwen2vl_demo.yaml                  # `make preflight`
    python -m plugins.preflight CONFIG.yaml cutoff_len=4096 video_maxlen=16     # key=value overrides the YAML
    python -m plugins.preflight CONFIG.yaml --drop-offending data/webvid_fit    # write the samples that pass
    python -m plugins.preflight CONFIG.yaml --skip-decode-check                 # headers only (said loudly)
    python -m plugins.preflight CONFIG.yaml --decode-workers 8                  # decode processes (default: CPUs)

The frame, pixel and length settings are checked first (plugins.video_settings: an error names the key, the
value and the valid range). Samples are then loaded and tokenized exactly as training will (LLaMA-Factory's
dataset loader, the config's template, its mm_plugin's token expansion and its supervised encoder, with the
config's video_* settings); video tokens come from clip metadata. Last, every clip's sampled frames are decoded
with the reader training uses and the same video_fps/video_maxlen (plugins.decode_check, one process per CPU),
so a clip that passes cannot fail when training reads it. Prints the token-length distribution and the decode
rate, then fails (PreflightError, exit 1) listing every sample that cutoff_len would truncate, whose clip
cannot be read or decoded, or whose text holds a media placeholder or chat token that breaks the chat format
(dataset, index, id, reason). With --drop-offending DIR it writes the other samples to DIR (same dataset names,
a dataset_info.json and dropped.json) and prints the dataset_dir/media_dir overrides that train on them.
`python -m plugins.train` runs this first, on the same arguments.
"""

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import av

import plugins
from plugins.decode_check import DecodeCheckError, decode_clips
from plugins.preflight_drop import raw_ids, write_without_offenders
from plugins.preflight_report import (
    CHAT_MARKUP,
    ENCODE_ERROR,
    MAX_LISTED,
    SKIPPED_DECODE_WARNING,
    TEXT_TRUNCATED,
    UNDECODABLE,
    UNREADABLE,
    VIDEO_TRUNCATED,
    Offender,
    PreflightError,
    PreflightReport,
    describe,
    error_message,
    format_report,
)
from plugins.video_settings import SettingsError, check_video_settings
from video import VideoReadError

UNLIMITED_CUTOFF = 1 << 30
IRRELEVANT_TO_TOKENIZING = frozenset({"deepspeed", "bf16", "fp16", "pure_bf16"})
MAX_DETAIL = 300  # characters of LLaMA-Factory's message kept (it quotes the whole conversation)


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


def _encode(processor, example: dict) -> list[int]:
    """Token ids of one aligned example through LLaMA-Factory's supervised encoder."""
    return processor._encode_data_example(
        prompt=example["_prompt"],
        response=example["_response"],
        system=example["_system"],
        tools=example["_tools"],
        images=example["_images"] or [],
        videos=example["_videos"] or [],
        audios=example["_audios"] or [],
    )[0]


def chat_format_problem(example: dict) -> str | None:
    """A media placeholder in an answer (a caption) or a chat/special token in any turn, or None.

    The user's own placeholders are LLaMA-Factory's to count against the sample's media (it raises on a mismatch).
    """
    # Imported here: it loads LLaMA-Factory's constants, and decode-check processes re-import this module.
    from data.caption_text import MEDIA_PLACEHOLDERS, chat_markup

    turns = [("system", example["_system"] or "")]
    turns += [(message["role"], message["content"]) for message in [*example["_prompt"], *example["_response"]]]
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


def _decode_offenders(samples: list, processor, workers: int | None, report: PreflightReport) -> None:
    """Decode every clip of ``samples`` ((dataset, index, id, clip paths, tokens, video tokens)); add the failures."""
    # The plugin reads frames with these processor attributes (LLaMA-Factory's get_mm_inputs, its defaults).
    settings = {"video_fps": getattr(processor, "video_fps", 2.0),
                "video_maxlen": getattr(processor, "video_maxlen", 128)}
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
                Offender(name, index, sample_id, videos, UNDECODABLE, tokens, video_tokens, "; ".join(failed)))


def run(args: dict, drop_offending_to: Path | None = None, decode_check: bool = True,
        decode_workers: int | None = None) -> PreflightReport:
    """Check the config's datasets (``dataset`` and ``eval_dataset``). Raises PreflightError if any sample fails,
    unless ``drop_offending_to`` is given: then the passing samples are written there and the report returned.
    ``decode_check=False`` reads clip headers only; ``decode_workers`` processes decode (default: one per CPU)."""
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.data.processor import SupervisedDatasetProcessor
    from tqdm import tqdm

    try:
        check_video_settings(args)
    except SettingsError as error:
        raise PreflightError(f"invalid settings: {error}") from None
    plugins.register()
    model_args, data_args, training_args, tokenizer, processor, template = _load_llamafactory(args)
    measure = SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=processor,
                                         data_args=dataclasses.replace(data_args, cutoff_len=UNLIMITED_CUTOFF))
    truncate = SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=processor,
                                          data_args=data_args)
    video_token_id = tokenizer.convert_tokens_to_ids(template.mm_plugin.video_token) \
        if template.mm_plugin.video_token else None
    report = PreflightReport(cutoff_len=data_args.cutoff_len, template=data_args.template)
    names = list(dict.fromkeys((data_args.dataset or []) + (data_args.eval_dataset or [])))
    attrs = dict(zip(names, get_dataset_list(names, data_args.dataset_dir)))
    to_decode = []  # samples whose clips are read at training time: (dataset, index, id, clips, tokens, video)
    for name, attr in attrs.items():
        dataset = _load_single_dataset(attr, model_args, data_args, training_args)
        ids = raw_ids(attr, data_args)
        for index, example in enumerate(tqdm(dataset, desc=f"preflight {name}", unit="sample")):
            report.n_samples += 1
            sample_id = ids[index] if index < len(ids) else str(index)
            videos = [str(video) for video in (example["_videos"] or [])]
            problem = chat_format_problem(example)
            if problem is not None:
                report.offenders.append(Offender(name, index, sample_id, videos, CHAT_MARKUP, 0, 0, problem))
                continue
            try:
                input_ids = _encode(measure, example)
            except (VideoReadError, av.FFmpegError, OSError) as error:
                report.offenders.append(Offender(name, index, sample_id, videos, UNREADABLE, 0, 0, str(error)))
                continue
            except ValueError as error:  # LLaMA-Factory refuses the sample (e.g. placeholders and media disagree)
                report.offenders.append(Offender(name, index, sample_id, videos, ENCODE_ERROR, 0, 0, _short(error)))
                continue
            video_tokens = input_ids.count(video_token_id) if video_token_id is not None else 0
            report.token_counts.append(len(input_ids))
            report.video_token_counts.append(video_tokens)
            clips = [str(video) for video in (example["_videos"] or []) if isinstance(video, (str, os.PathLike))]
            to_decode.append((name, index, sample_id, clips, len(input_ids), video_tokens))  # not frame lists
            if len(input_ids) > data_args.cutoff_len:
                kept_video = _encode(truncate, example).count(video_token_id) if video_token_id is not None else 0
                reason = VIDEO_TRUNCATED if kept_video < video_tokens else TEXT_TRUNCATED
                report.offenders.append(Offender(name, index, sample_id, videos, reason, len(input_ids), video_tokens))
    if decode_check:
        _decode_offenders(to_decode, processor, decode_workers, report)
    if report.offenders:
        if drop_offending_to is None:
            raise PreflightError(error_message(report), report)
        write_without_offenders(report, attrs, data_args, Path(drop_offending_to))
    return report


def split_preflight_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """(training arguments, preflight-only options) of a `python -m plugins.train` command line.

    --skip-decode-check and --decode-workers N are the preflight's; LLaMA-Factory's parser must not see them.
    """
    train_args: list[str] = []
    options: list[str] = []
    rest = iter(argv)
    for arg in rest:
        if arg == "--skip-decode-check" or arg.startswith("--decode-workers="):
            options.append(arg)
        elif arg == "--decode-workers":
            options.append(arg)
            value = next(rest, None)  # none: argparse says the option needs a number
            if value is not None:
                options.append(value)
        else:
            train_args.append(arg)
    return train_args, options


def parse_cli(argv: list[str]) -> tuple[dict, argparse.Namespace]:
    """CONFIG.yaml [key=value ...] [--drop-offending DIR] [--skip-decode-check] [--decode-workers N]
    -> (merged config as LLaMA-Factory reads it, options)."""
    from omegaconf import OmegaConf

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="LLaMA-Factory training YAML")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, as for llamafactory-cli / plugins.train")
    parser.add_argument("--drop-offending", type=Path, metavar="DIR",
                        help="write the samples that pass to DIR instead of failing, listing the dropped ones")
    parser.add_argument("--skip-decode-check", action="store_true",
                        help="do not decode the clips' sampled frames (headers are still read): a damaged clip "
                             "then stops training when it is reached")
    parser.add_argument("--decode-workers", type=int, metavar="N", help="decode-check processes (default: CPUs)")
    options = parser.parse_args(argv)
    if options.config.suffix not in (".yaml", ".yml"):
        parser.error(f"{options.config}: expected a .yaml training config")
    if options.decode_workers is not None and options.decode_workers < 1:
        parser.error(f"--decode-workers {options.decode_workers}: expected a number of processes >= 1")
    config = OmegaConf.merge(OmegaConf.load(options.config.absolute()), OmegaConf.from_cli(options.overrides))
    return OmegaConf.to_container(config), options


def main(argv: list[str] | None = None) -> None:
    """`python -m plugins.preflight CONFIG.yaml [key=value ...] [options]`; exit 1 if a sample would break training."""
    args, options = parse_cli(sys.argv[1:] if argv is None else argv)
    drop_to = options.drop_offending
    if options.skip_decode_check:
        print(SKIPPED_DECODE_WARNING, flush=True)
    try:
        report = run(args, drop_offending_to=drop_to, decode_check=not options.skip_decode_check,
                     decode_workers=options.decode_workers)
    except PreflightError as error:
        if error.report is not None:
            print(format_report(error.report))
        print(f"preflight FAILED: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    print(format_report(report))
    if report.offenders:
        for offender in report.offenders[:MAX_LISTED]:
            print(f"  dropped {describe(offender)}")
        media_dir = os.path.abspath(args.get("media_dir") or args.get("dataset_dir", "data"))
        print(f"wrote the other samples and dropped.json to {drop_to}; train on them with:\n"
              f"  python -m plugins.train CONFIG.yaml dataset_dir={drop_to} media_dir={media_dir}")


if __name__ == "__main__":
    main()
