"""Before any GPU time: check every sample of a training config fits ``cutoff_len`` and has a readable clip.

    python -m plugins.preflight configs/tiny_qwen2vl_demo.yaml                  # `make preflight`
    python -m plugins.preflight CONFIG.yaml cutoff_len=4096 video_maxlen=16     # key=value overrides the YAML
    python -m plugins.preflight CONFIG.yaml --drop-offending data/webvid_fit    # write the samples that fit

Samples are loaded and tokenized exactly as training will (LLaMA-Factory's dataset loader, the config's
template, its mm_plugin's token expansion and its supervised encoder, with the config's video_* settings);
video tokens come from clip metadata, no frame is decoded. Prints the token-length distribution, then fails
(PreflightError, exit 1) listing every sample that cutoff_len would truncate or whose clip cannot be read.
With --drop-offending DIR it writes the other samples to DIR (same dataset names, a dataset_info.json and
dropped.json) and prints the dataset_dir/media_dir overrides that train on them. `python -m plugins.train`
runs this first, on the same arguments.
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import av

import plugins
from plugins.video_sampling import VideoReadError

UNLIMITED_CUTOFF = 1 << 30
MAX_LISTED = 20  # offenders named in the error message; all of them go to dropped.json with --drop-offending
VIDEO_TRUNCATED, TEXT_TRUNCATED, UNREADABLE = "video_truncated", "text_truncated", "unreadable_clip"
IRRELEVANT_TO_TOKENIZING = frozenset({"deepspeed", "bf16", "fp16", "pure_bf16"})


class PreflightError(Exception):
    """Some samples would be truncated or cannot be read; the message lists them and the fix."""

    def __init__(self, message: str, report: "PreflightReport | None" = None):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Offender:
    dataset: str
    index: int  # position in the dataset file
    sample_id: str
    videos: list[str]
    reason: str
    tokens: int  # untruncated length (0 for an unreadable clip)
    video_tokens: int
    detail: str = ""


@dataclass
class PreflightReport:
    cutoff_len: int
    template: str
    n_samples: int = 0
    token_counts: list[int] = field(default_factory=list)
    video_token_counts: list[int] = field(default_factory=list)
    offenders: list[Offender] = field(default_factory=list)

    def distribution(self, values: list[int] | None = None) -> dict[str, float]:
        """min / median / p95 / max of the samples' token counts."""
        values = sorted(self.token_counts if values is None else values)
        if not values:
            return {}
        p95 = values[min(len(values) - 1, max(0, -(-95 * len(values) // 100) - 1))]  # nearest-rank
        return {"min": values[0], "median": statistics.median(values), "p95": p95, "max": values[-1]}


def _fmt(distribution: dict[str, float]) -> str:
    return "  ".join(f"{key} {value:g}" for key, value in distribution.items()) or "no samples"


def format_report(report: PreflightReport) -> str:
    lines = [
        f"preflight: {report.n_samples} samples, template {report.template}, cutoff_len {report.cutoff_len}",
        f"  tokens per sample   {_fmt(report.distribution())}",
        f"  video tokens        {_fmt(report.distribution(report.video_token_counts))}",
    ]
    if report.offenders:
        lines.append(f"  offending samples   {len(report.offenders)}")
    else:
        lines.append(f"  ok: every sample fits cutoff_len {report.cutoff_len} and every clip is readable")
    return "\n".join(lines)


def _describe(offender: Offender) -> str:
    where = f"{offender.dataset}[{offender.index}] id={offender.sample_id} {', '.join(offender.videos)}"
    if offender.reason == UNREADABLE:
        return f"{where}: clip cannot be read: {offender.detail}"
    cut = "into its video tokens" if offender.reason == VIDEO_TRUNCATED else "in its text"
    return f"{where}: {offender.tokens} tokens ({offender.video_tokens} video) > cutoff_len, truncated {cut}"


def error_message(report: PreflightReport) -> str:
    listed = [f"  {_describe(offender)}" for offender in report.offenders[:MAX_LISTED]]
    if len(report.offenders) > MAX_LISTED:
        listed.append(f"  ... and {len(report.offenders) - MAX_LISTED} more")
    longest = max(offender.tokens for offender in report.offenders)
    fixes = [
        f"  - raise cutoff_len to at least {longest}" if longest > report.cutoff_len else None,
        "  - or lower video_max_pixels or video_maxlen (fewer video tokens per clip)"
        if any(o.reason != UNREADABLE for o in report.offenders) else None,
        "  - or re-convert the data (python -m data.convert_webvid) to skip unreadable clips"
        if any(o.reason == UNREADABLE for o in report.offenders) else None,
        "  - or drop them: python -m plugins.preflight CONFIG.yaml [key=value ...] --drop-offending DIR",
    ]
    return "\n".join(
        [f"{len(report.offenders)} of {report.n_samples} samples would break training:", *listed, "Fix:",
         *[fix for fix in fixes if fix]]
    )


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


def run(args: dict, drop_offending_to: Path | None = None) -> PreflightReport:
    """Check the config's datasets (``dataset`` and ``eval_dataset``). Raises PreflightError if any sample fails,
    unless ``drop_offending_to`` is given: then the fitting samples are written there and the report returned."""
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.data.processor import SupervisedDatasetProcessor
    from tqdm import tqdm

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
    for name, attr in attrs.items():
        dataset = _load_single_dataset(attr, model_args, data_args, training_args)
        raw_ids = _raw_ids(attr, data_args)
        for index, example in enumerate(tqdm(dataset, desc=f"preflight {name}", unit="sample")):
            report.n_samples += 1
            sample_id = raw_ids[index] if index < len(raw_ids) else str(index)
            videos = [str(video) for video in (example["_videos"] or [])]
            try:
                input_ids = _encode(measure, example)
            except (VideoReadError, av.FFmpegError, OSError) as error:
                report.offenders.append(Offender(name, index, sample_id, videos, UNREADABLE, 0, 0, str(error)))
                continue
            video_tokens = input_ids.count(video_token_id) if video_token_id is not None else 0
            report.token_counts.append(len(input_ids))
            report.video_token_counts.append(video_tokens)
            if len(input_ids) > data_args.cutoff_len:
                kept_video = _encode(truncate, example).count(video_token_id) if video_token_id is not None else 0
                reason = VIDEO_TRUNCATED if kept_video < video_tokens else TEXT_TRUNCATED
                report.offenders.append(Offender(name, index, sample_id, videos, reason, len(input_ids), video_tokens))
    if report.offenders:
        if drop_offending_to is None:
            raise PreflightError(error_message(report), report)
        _write_without_offenders(report, attrs, data_args, Path(drop_offending_to))
    return report


def _raw_path(attr, data_args) -> Path:
    if attr.load_from != "file":
        raise PreflightError(f"--drop-offending needs file datasets; {attr.dataset_name} is loaded from "
                             f"{attr.load_from}")
    return Path(data_args.dataset_dir) / attr.dataset_name


def _read_records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _raw_ids(attr, data_args) -> list[str]:
    """The ``id`` of each record (the converter writes the videoid there), when the file has them."""
    if attr.load_from != "file" or attr.num_samples is not None:
        return []
    path = _raw_path(attr, data_args)
    if not path.is_file() or path.suffix not in (".json", ".jsonl"):
        return []
    return [str(record.get("id", index)) for index, record in enumerate(_read_records(path))]


def _write_without_offenders(report: PreflightReport, attrs: dict, data_args, out_dir: Path) -> None:
    """DIR/<dataset files> without the offenders, DIR/dataset_info.json (same names), DIR/dropped.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info_path = Path(data_args.dataset_dir) / "dataset_info.json"
    entries = json.loads(info_path.read_text(encoding="utf-8"))
    dropped_by_dataset: dict[str, set[int]] = {}
    for offender in report.offenders:
        dropped_by_dataset.setdefault(offender.dataset, set()).add(offender.index)
    new_info = {}
    for name, attr in attrs.items():
        if attr.num_samples is not None:
            raise PreflightError(f"--drop-offending cannot map samples of {name}: its num_samples reorders them")
        source = _raw_path(attr, data_args)
        records = _read_records(source)
        dropped = dropped_by_dataset.get(name, set())
        kept = [record for index, record in enumerate(records) if index not in dropped]
        file_name = f"{name}{source.suffix}"
        with open(out_dir / file_name, "w", encoding="utf-8") as f:
            if source.suffix == ".jsonl":
                f.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in kept)
            else:
                json.dump(kept, f, ensure_ascii=False, indent=0)
        new_info[name] = {**entries[name], "file_name": file_name}
    (out_dir / "dataset_info.json").write_text(json.dumps(new_info, indent=2) + "\n", encoding="utf-8")
    dropped_list = [dataclasses.asdict(offender) for offender in report.offenders]
    (out_dir / "dropped.json").write_text(json.dumps(dropped_list, indent=2, ensure_ascii=False) + "\n")


def parse_cli(argv: list[str]) -> tuple[dict, Path | None]:
    """CONFIG.yaml [key=value ...] [--drop-offending DIR] -> (merged config, drop dir), as LLaMA-Factory reads."""
    from omegaconf import OmegaConf

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="LLaMA-Factory training YAML")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, as for llamafactory-cli / plugins.train")
    parser.add_argument("--drop-offending", type=Path, metavar="DIR",
                        help="write the samples that fit to DIR instead of failing, listing the dropped ones")
    options = parser.parse_args(argv)
    if options.config.suffix not in (".yaml", ".yml"):
        parser.error(f"{options.config}: expected a .yaml training config")
    config = OmegaConf.merge(OmegaConf.load(options.config.absolute()), OmegaConf.from_cli(options.overrides))
    return OmegaConf.to_container(config), options.drop_offending


def main(argv: list[str] | None = None) -> None:
    args, drop_to = parse_cli(sys.argv[1:] if argv is None else argv)
    try:
        report = run(args, drop_offending_to=drop_to)
    except PreflightError as error:
        if error.report is not None:
            print(format_report(error.report))
        print(f"preflight FAILED: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    print(format_report(report))
    if report.offenders:
        for offender in report.offenders[:MAX_LISTED]:
            print(f"  dropped {_describe(offender)}")
        media_dir = os.path.abspath(args.get("media_dir") or args.get("dataset_dir", "data"))
        print(f"wrote the other samples and dropped.json to {drop_to}; train on them with:\n"
              f"  python -m plugins.train CONFIG.yaml dataset_dir={drop_to} media_dir={media_dir}")


if __name__ == "__main__":
    main()
