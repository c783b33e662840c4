"""Will a training config fit its GPUs? GPU memory per device, term by term, before any GPU time.

    python -m plugins.plan configs/qwen2vl_7b_lora_sft.yaml --gpus 8 --gpu-memory 80          # `make plan`
    python -m plugins.plan CONFIG.yaml deepspeed=configs/deepspeed/ds_z3_config.json --gpus 8 --gpu-memory 80
    python -m plugins.plan CONFIG.yaml --tokens 1600 --gpus 1 --gpu-memory 48                  # a given length

Prints per GPU: base weights, trainable parameters with their gradients and Adam states (by the DeepSpeed stage of
the config's ``deepspeed`` JSON), activations counted on the released architecture (plugins.activation_count) for
the longest sample times per_device_train_batch_size, the logits term, and the CUDA context allowance
(plugins.memory_plan); then the verdict, the largest per_device_train_batch_size that fits and, each with its
saving, what to change. Token lengths come from the preflight's token count over the first --sample samples of the
config's datasets (p95 and max); where they cannot be counted (no dataset, no tokenizer offline) the plan takes
cutoff_len, the longest a sample can be, and says so; --tokens sets the length. Counts are cached
(plugins.plan_cache). Exit codes: 0 fits, 1 does not fit, 2 a bad command line or config.
"""

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from plugins.memory_plan import GIB, PlanInputs, largest_batch, plan_terms, total_bytes, with_changes
from video.llamafactory_defaults import LLAMAFACTORY_DEFAULTS

ATTENTION = {
    "auto": "sdpa",
    "sdpa": "sdpa",
    "fa2": "flash_attention_2",
    "disabled": "eager",
    "fa3": "flash_attention_2",
}
DEFAULT_SAMPLE = 2000  # samples the token count reads: enough for a p95, a few seconds


class PlanError(ValueError):
    """The config cannot be planned; the message names the key and the fix."""


@dataclass(frozen=True)
class TokenLengths:
    p95: int
    max: int
    video: int  # video tokens of the longest clip
    source: str  # where the figures come from, said on screen


def deepspeed_settings(settings: dict, hidden_size: int, weight_bytes: int) -> tuple[int, int]:
    """(ZeRO stage, bytes of its gradient buckets) of the config's ``deepspeed`` JSON; (0, 0) without DeepSpeed.
    A bucket size of "auto" is hidden_size squared, as transformers fills it."""
    path = settings.get("deepspeed")
    if not path:
        return 0, 0
    try:
        zero = json.loads(Path(path).read_text(encoding="utf-8"))["zero_optimization"]
        stage = int(zero["stage"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PlanError(f"deepspeed {path}: cannot read its zero_optimization.stage ({error})") from None
    bucket = zero.get("reduce_bucket_size", 5e8)
    elements = hidden_size * hidden_size if bucket == "auto" else int(float(bucket))
    buffers = (2 if zero.get("overlap_comm") else 1) if zero.get("contiguous_gradients", True) else 0
    return stage, elements * weight_bytes * buffers


def _video_tokens_at_most(settings: dict, vision_config) -> int:
    """Video tokens of one clip at the pixel and frame budget: (frames / 2) x pixels / (patch x merge)^2."""
    frames = int(settings.get("video_maxlen", LLAMAFACTORY_DEFAULTS["video_maxlen"]))
    pixels = int(settings.get("video_max_pixels", LLAMAFACTORY_DEFAULTS["video_max_pixels"]))
    side = vision_config.patch_size * vision_config.spatial_merge_size
    return -(-frames // vision_config.temporal_patch_size) * (pixels // side**2)


def token_lengths(settings: dict, vision_config, sample: int, tokens: int | None) -> TokenLengths:
    """The p95 and longest sample length: --tokens, else the preflight's count, else cutoff_len."""
    cutoff = int(settings.get("cutoff_len", LLAMAFACTORY_DEFAULTS["cutoff_len"]))
    video = min(_video_tokens_at_most(settings, vision_config), cutoff)
    if tokens:
        return TokenLengths(tokens, tokens, video, "--tokens")
    from plugins.preflight_measure import measure
    from plugins.preflight_report import PreflightError

    try:
        report = measure({**settings, "max_samples": sample}, decode_check=False, workers=1).report
    except (PreflightError, OSError, ValueError) as error:
        reason = str(error).splitlines()[0][:160]
        return TokenLengths(cutoff, cutoff, video, f"cutoff_len, the longest a sample can be (not counted: {reason})")
    if not report.token_counts:
        return TokenLengths(cutoff, cutoff, video, "cutoff_len, the longest a sample can be (no sample counted)")
    spread = report.distribution()
    longest = min(int(spread["max"]), cutoff)  # LLaMA-Factory truncates at cutoff_len
    counted = f"the preflight's token count over {report.n_samples} samples (max_samples {sample})"
    return TokenLengths(min(int(spread["p95"]), cutoff), longest, max(report.video_token_counts), counted)


def _activation_bytes(text_config, settings: dict, model_args, placement, tokens: int, checkpointing: bool) -> int:
    from plugins.activation_count import CountSettings, count_activations
    from plugins.plan_cache import cached

    dtype = "bfloat16" if settings.get("bf16") or settings.get("pure_bf16") else "float32"
    count_settings = CountSettings(
        tokens=tokens,
        attention=ATTENTION.get(str(model_args.flash_attn), "sdpa"),
        gradient_checkpointing=checkpointing,
        lora_targets=placement.layer_targets,
        lora_rank=int(settings.get("lora_rank", 8)),
        lora_dropout=float(settings.get("lora_dropout", 0.0)),
        dtype=dtype,
    )

    def count() -> dict:
        counted = count_activations(text_config, count_settings)
        return {"saved": counted.saved_bytes, "layer": counted.layer_bytes}

    figures = cached({"what": "activations", "config": text_config.to_dict(), **count_settings.__dict__}, count)
    return figures["saved"] + (figures["layer"] if checkpointing else 0)


def _placement(config, settings: dict):
    from plugins.lora_targets import LoraPlacement, lora_placement
    from plugins.plan_cache import cached

    keys = ("lora_target", "lora_rank", "freeze_vision_tower", "freeze_multi_modal_projector", "additional_target")
    figures = cached(
        {"what": "lora", "config": config.to_dict(), **{key: settings.get(key) for key in keys}},
        lambda: lora_placement(config, settings).__dict__,
    )
    return LoraPlacement(**{**figures, "layer_targets": tuple(figures["layer_targets"])})


def _gib(value: float) -> str:
    return f"{value / GIB:6.1f} GiB"


@dataclass(frozen=True)
class PlanBasis:
    """What the plan reads off a config: the arithmetic's inputs and where they came from."""

    inputs: PlanInputs
    config_source: str
    placement: object  # plugins.lora_targets.LoraPlacement
    lengths: TokenLengths
    model_args: object  # LLaMA-Factory's ModelArguments
    finetuning_args: object  # LLaMA-Factory's FinetuningArguments
    text_config: object
    stage: int
    checkpointing: bool
    weight_bytes: int


def plan_basis(settings: dict, gpus: int, sample: int = DEFAULT_SAMPLE, tokens: int | None = None) -> PlanBasis:
    """The plan's inputs for ``settings`` on ``gpus`` GPUs (token lengths as token_lengths finds them)."""
    from plugins.lora_targets import check_frozen_vision, parse_lora_args
    from plugins.released_architectures import model_config

    # Every file the plan reads is read before the token count loads the datasets (seconds, and on a first run
    # datasets' own output): a mistake in one is the plan's one sentence, at once.
    config, config_source = model_config(settings["model_name_or_path"])
    text_config = config.text_config
    weight_bytes = 2 if settings.get("bf16") or settings.get("pure_bf16") or settings.get("fp16") else 4
    stage, buckets = deepspeed_settings(settings, text_config.hidden_size, weight_bytes)
    model_args, finetuning_args = parse_lora_args(settings)
    placement = _placement(config, settings)
    check_frozen_vision(placement, finetuning_args.freeze_vision_tower)
    lengths = token_lengths(settings, config.vision_config, sample, tokens)
    checkpointing = not model_args.disable_gradient_checkpointing

    inputs = PlanInputs(
        frozen_parameters=placement.total_parameters - placement.trainable_parameters,
        trainable_parameters=placement.trainable_parameters,
        largest_layer_parameters=placement.largest_layer_parameters,
        weight_bytes=weight_bytes,
        activation_bytes_per_sample=_activation_bytes(
            text_config, settings, model_args, placement, lengths.max, checkpointing
        ),
        tokens_per_sample=lengths.max,
        vocab_size=text_config.vocab_size,
        zero_stage=stage,
        deepspeed_buffer_bytes=buckets,
        gpus=gpus,
        liger=bool(model_args.enable_liger_kernel),
    )
    return PlanBasis(
        inputs=inputs,
        config_source=config_source,
        placement=placement,
        lengths=lengths,
        model_args=model_args,
        finetuning_args=finetuning_args,
        text_config=text_config,
        stage=stage,
        checkpointing=checkpointing,
        weight_bytes=weight_bytes,
    )


def plan(settings: dict, gpus: int, gpu_memory_gib: float, sample: int = DEFAULT_SAMPLE, tokens: int | None = None):
    """The plan's lines and whether the config fits."""
    from plugins.lora_targets import format_placement

    basis = plan_basis(settings, gpus, sample, tokens)
    inputs, config_source, placement, lengths = basis.inputs, basis.config_source, basis.placement, basis.lengths
    model_args, finetuning_args, text_config = basis.model_args, basis.finetuning_args, basis.text_config
    stage, checkpointing, weight_bytes = basis.stage, basis.checkpointing, basis.weight_bytes
    batch = int(settings.get("per_device_train_batch_size", 1))

    def activations(length: int, with_checkpointing: bool) -> int:
        return _activation_bytes(text_config, settings, model_args, placement, length, with_checkpointing)

    budget = int(gpu_memory_gib * GIB)
    terms = plan_terms(inputs, batch)
    total = sum(terms.values())
    fits = total <= budget
    vision = "frozen (keeps no activations)" if finetuning_args.freeze_vision_tower else "trained (not counted)"
    lines = [
        f"plan: {settings['model_name_or_path']} ({config_source}) on {gpus} GPU(s) x {gpu_memory_gib:g} GiB, "
        f"ZeRO stage {stage}{'' if stage else ' (no deepspeed)'}",
        f"  {format_placement(placement)}",
        f"  tokens per sample: p95 {lengths.p95}, max {lengths.max} ({lengths.source})",
        f"  attention {ATTENTION.get(str(model_args.flash_attn), 'sdpa')}, gradient checkpointing "
        f"{'on' if checkpointing else 'off'}, Liger {'on' if inputs.liger else 'off'}, vision tower "
        f"{vision}",
        f"per GPU at per_device_train_batch_size {batch} x {lengths.max} tokens:",
        *(f"  {name:<44}{_gib(value)}" for name, value in terms.items()),
        f"  {'total':<44}{_gib(total)} of {gpu_memory_gib:g} GiB: {'fits' if fits else 'DOES NOT FIT'}",
        f"largest per_device_train_batch_size that fits: {largest_batch(inputs, budget)}",
    ]
    changes = []
    if not checkpointing:
        cheaper = with_changes(inputs, activation_bytes_per_sample=activations(lengths.max, True))
        changes.append(("gradient checkpointing (disable_gradient_checkpointing: false)", cheaper))
    if not inputs.liger:
        changes.append(("enable_liger_kernel: true (fused cross-entropy, no logits)", with_changes(inputs, liger=True)))
    if stage < 3 and gpus > 1:
        zero3 = with_changes(inputs, zero_stage=3, deepspeed_buffer_bytes=text_config.hidden_size**2 * weight_bytes)
        changes.append(("deepspeed: configs/deepspeed/ds_z3_config.json (ZeRO-3)", zero3))
    if lengths.video > 1:
        shorter = max(1, lengths.max - lengths.video // 2)
        fewer = with_changes(
            inputs, tokens_per_sample=shorter, activation_bytes_per_sample=activations(shorter, checkpointing)
        )
        changes.append(("half the video_max_pixels or video_maxlen (~half the video tokens)", fewer))
    if changes:
        lines.append("what to change (saving per GPU at this batch; largest batch then):")
        lines += [
            f"  - {name:<66} saves {_gib(total - total_bytes(changed, batch))}  batch {largest_batch(changed, budget)}"
            for name, changed in changes
        ]
    return lines, fits


def main(argv: list[str] | None = None) -> None:
    """`python -m plugins.plan CONFIG.yaml [key=value ...] --gpus N --gpu-memory GiB`; exit 1 if it does not fit."""
    from plugins.lora_targets import LoraTargetError
    from plugins.released_architectures import ModelConfigError
    from plugins.run_config import RunConfigError, load_run_config
    from plugins.run_log import log_libraries_to

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="LLaMA-Factory training YAML")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, as for plugins.train")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs the run uses (ZeRO splits over them)")
    parser.add_argument("--gpu-memory", type=float, default=80.0, metavar="GIB", help="memory of one GPU, GiB")
    parser.add_argument("--tokens", type=int, help="plan for samples of this many tokens instead of counting them")
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="samples the token count reads")
    namespace = parser.parse_intermixed_args(sys.argv[1:] if argv is None else argv)
    if namespace.gpus < 1 or namespace.gpu_memory <= 0 or namespace.sample < 1 or (namespace.tokens or 1) < 1:
        parser.error("--gpus, --tokens and --sample must be >= 1 and --gpu-memory > 0")
    try:
        settings = load_run_config(namespace.config, namespace.overrides)
        log_libraries_to(Path(settings.get("output_dir") or ".") / "plan.log")
        lines, fits = plan(settings, namespace.gpus, namespace.gpu_memory, namespace.sample, namespace.tokens)
    except (RunConfigError, PlanError, ModelConfigError, LoraTargetError) as error:
        print(f"plan FAILED: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print("\n".join(lines))
    raise SystemExit(0 if fits else 1)


if __name__ == "__main__":
    main()
