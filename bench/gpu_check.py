"""The prepared GPU check: memory plan vs measured peak, one LoRA step's time, data wait per step (one GPU, < 8 min).

    bash bench/gpu_check_run.sh                                  # on the GPU machine: carried wheels, tiny model, clips
    python -m bench.gpu_check --out results/gpu_check.json       # the check itself, where our pins are installed
    python -m bench.gpu_check --device cpu --tiny --out /tmp/gpu_check.json   # the same code path here, tiny model

Model: the Qwen2-VL-7B architecture (plugins.released_architectures, the sizes plugins.plan counts) with random
weights in bf16 on the device, LoRA and gradient checkpointing as --config says (bench.gpu_dataloader_wait's
build_model); --tiny takes the embedded tiny model's architecture instead. Three sections, each with a verdict line:
1. memory: forward + backward + AdamW step on synthetic inputs of --tokens tokens per sample (8 frames at the
   config's pixel budget, the rest text) at batch 1 and the config's per_device_train_batch_size;
   torch.cuda.max_memory_allocated / max_memory_reserved beside plugins.plan's terms for the same config, batch
   and token count, and the plan's error in % (no CUDA allocator on --device cpu: measured figures are null).
2. step: the median time of one LoRA step at the config's batch over --steps steps after --warmup.
3. data wait: LLaMA-Factory's stock decode vs the frame store at --workers data workers on the sample clips
   (bench.gpu_dataloader_wait's measure_paths: LLaMA-Factory's tokenizer pipeline and SFT collator).
The JSON is published atomically (--out). Figures come only from a run on a GPU; none is recorded in docs yet.
"""

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

from bench.gpu_dataloader_wait import (
    RELEASED_7B,
    REPO,
    TINY,
    TOKEN_IDS,
    WaitRun,
    build_model,
    measure_paths,
    time_steps,
)

GIB = 2**30
PLAN_SLACK = 0.25  # a plan more than this far above the measured peak wastes memory a larger batch could use


def synthetic_batch(model_config, settings: dict, tokens: int, batch: int, device: str) -> dict:
    """``batch`` samples of ``tokens`` tokens: one clip of video_maxlen frames at video_max_pixels, the rest text,
    loss on the text after the clip."""
    import torch

    vision = model_config.vision_config
    side = vision.patch_size * vision.spatial_merge_size
    grid_hw = math.isqrt(int(settings["video_max_pixels"])) // side * vision.spatial_merge_size
    grid_t = -(-int(settings["video_maxlen"]) // vision.temporal_patch_size)
    video_tokens = grid_t * grid_hw * grid_hw // vision.spatial_merge_size**2
    text = tokens - video_tokens - 2
    if text < 2:
        raise SystemExit(f"--tokens {tokens} leaves no text beside the clip's {video_tokens} video tokens: raise it")
    generator = torch.Generator().manual_seed(0)
    ordinary = min(getattr(model_config, key) for key in TOKEN_IDS)  # ids below the special tokens
    prompt = torch.randint(0, ordinary, (batch, text // 2), generator=generator)
    answer = torch.randint(0, ordinary, (batch, text - text // 2), generator=generator)
    clip = torch.tensor([model_config.vision_start_token_id] + [model_config.video_token_id] * video_tokens
                        + [model_config.vision_end_token_id]).expand(batch, -1)  # fmt: skip
    input_ids = torch.cat([prompt, clip, answer], dim=1)
    labels = input_ids.clone()
    labels[:, : input_ids.shape[1] - answer.shape[1]] = -100
    patch_values = 3 * vision.temporal_patch_size * vision.patch_size**2
    pixels = torch.randn(batch * grid_t * grid_hw * grid_hw, patch_values, generator=generator)
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": torch.ones_like(input_ids, device=device),
        "labels": labels.to(device),
        # what the processor returns beside input_ids (ProcessorMixin.create_mm_token_type_ids): 2 marks video
        "mm_token_type_ids": ((input_ids == model_config.video_token_id) * 2).to(device),
        "pixel_values_videos": pixels.to(device, torch.bfloat16),
        "video_grid_thw": torch.tensor([[grid_t, grid_hw, grid_hw]] * batch, device=device),
    }


def planned(settings: dict, batch: int, tokens: int) -> dict[str, int]:
    """plugins.plan's terms (bytes, one GPU) for ``settings`` at ``batch`` samples of ``tokens`` tokens."""
    from plugins.memory_plan import plan_terms
    from plugins.plan import plan_basis

    basis = plan_basis({**settings, "per_device_train_batch_size": batch}, gpus=1, tokens=tokens)
    return plan_terms(basis.inputs, batch)


def measure_memory(model, settings: dict, batch: int, run: WaitRun, tokens: int) -> dict:
    """Peak CUDA memory of run.warmup + run.steps training steps at ``batch``, beside the plan's figure."""
    import torch

    cuda = run.device != "cpu"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    inputs = synthetic_batch(model.base_model.model.config, settings, tokens, batch, run.device)
    timing = time_steps(model, [inputs], run.steps, run.warmup, run.device)
    terms = planned(settings, batch, tokens)
    plan_total = sum(terms.values())
    row = {"batch": batch, "tokens": tokens, "plan_bytes": plan_total, "plan_terms": terms, "timing": timing}
    row["peak_allocated_bytes"] = torch.cuda.max_memory_allocated() if cuda else None
    row["peak_reserved_bytes"] = torch.cuda.max_memory_reserved() if cuda else None
    for kind in ("allocated", "reserved"):
        peak = row[f"peak_{kind}_bytes"]
        row[f"plan_error_vs_{kind}_pct"] = 100 * (plan_total - peak) / peak if peak else None
    return row


def memory_verdict(row: dict) -> str:
    """One line: the plan against the measured peak (reserved: what the allocator held from the GPU)."""
    head = f"memory at batch {row['batch']} x {row['tokens']} tokens: plan {row['plan_bytes'] / GIB:.2f} GiB"
    if row["peak_reserved_bytes"] is None:
        return f"{head}; measured: none on CPU (no CUDA allocator); run on a GPU for the comparison"
    error = row["plan_error_vs_reserved_pct"]
    verdict = "plan too LOW" if error < 0 else "plan LOOSE" if error > 100 * PLAN_SLACK else "plan holds"
    return (
        f"{head}, measured peak reserved {row['peak_reserved_bytes'] / GIB:.2f} GiB (allocated "
        f"{row['peak_allocated_bytes'] / GIB:.2f} GiB): plan {error:+.1f} % vs reserved: {verdict}"
    )


def wait_verdict(paths: dict, workers: int) -> str:
    """One line: the data wait per step of both paths."""
    stock, store = paths["stock decode"], paths["frame store"]
    verdict = "the GPU waits for data" if store["wait_share"] > 0.05 else "data loading keeps up"
    return (
        f"data wait per step at {workers} workers: stock {stock['wait_s'] * 1e3:.1f} ms ({stock['wait_share']:.1%}), "
        f"frame store {store['wait_s'] * 1e3:.1f} ms ({store['wait_share']:.1%}): with the frame store {verdict}"
    )


def publish(results: dict, out: Path) -> None:
    """Write ``out`` whole or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, out)


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.gpu_check [--device cuda|cpu] [--tiny] [--steps N] [--workers K] [--out JSON]`."""
    import torch

    import plugins
    from plugins.run_config import load_run_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/qwen2vl_7b_lora_sft.yaml", help="LoRA, video and batch settings")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--tiny", action="store_true", help="the embedded tiny model's architecture, not the 7B")
    parser.add_argument(
        "--tokens", type=int, default=330, help="tokens per sample: the config's ~330, 256 video (8 frames at 224x224)"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement (the median is reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--wait-steps", type=int, default=30, help="timed steps per data path")
    parser.add_argument("--workers", type=int, default=8, help="DataLoader worker processes for the data wait")
    parser.add_argument("--clips-dir", type=Path, default=REPO / "data" / "sample" / "videos")
    parser.add_argument("--clips", type=int, help="use only the first N clips (default: all)")
    parser.add_argument("--out", type=Path, default=Path("results/gpu_check.json"), help="results JSON")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine, or here with --device cpu --tiny")
    clips = sorted(args.clips_dir.rglob("*.mp4"))[: args.clips]
    if not clips:
        raise SystemExit(f"{args.clips_dir}: no .mp4 clips; write the sample clips first (make sample-data)")

    # Load model
    plugins.register()
    config = load_run_config(args.config)
    architecture = str(TINY) if args.tiny else RELEASED_7B
    settings = {**config, "model_name_or_path": architecture}
    batch = int(config["per_device_train_batch_size"])
    if len(clips) < batch:
        raise SystemExit(f"{len(clips)} clips is fewer than one batch ({batch}): give more clips")
    model = build_model(config, architecture, args.device)
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "model": f"{architecture} architecture, random init, bf16",
        "config": args.config,
        "versions": {name: __import__(name).__version__ for name in ("torch", "transformers", "peft")},
    }
    work = Path(tempfile.mkdtemp(prefix="gpu_check."))
    run = WaitRun(TINY, work, args.steps, args.warmup, args.workers, args.device)
    verdicts = []

    # 1. Memory plan vs measured peak (the config's batch also gives 2., the step time)
    results["memory"] = [measure_memory(model, settings, size, run, args.tokens) for size in sorted({1, batch})]
    verdicts += [memory_verdict(row) for row in results["memory"]]
    for line in verdicts:
        print(line, flush=True)

    # 2. One LoRA step
    timing = results["memory"][-1]["timing"]
    results["step"] = {"batch": batch, "tokens": args.tokens, "steps": timing["steps"],
                       "median_s": timing["step_median_s"], "mean_s": timing["step_s"]}  # fmt: skip
    samples_per_s = batch / timing["step_median_s"]
    verdicts.append(
        f"one LoRA step at batch {batch} x {args.tokens} tokens: median {timing['step_median_s'] * 1e3:.1f} ms over "
        f"{timing['steps']} steps ({samples_per_s:.1f} samples/s, {samples_per_s * args.tokens:,.0f} tokens/s)"
    )
    print(verdicts[-1], flush=True)

    # 3. Data wait per step, stock decode vs the frame store
    wait_run = WaitRun(TINY, work, args.wait_steps, args.warmup, args.workers, args.device)
    paths = measure_paths(config, model, clips, wait_run)
    results["data_wait"] = {"workers": args.workers, "clips": len(clips), **paths}
    verdicts.append(wait_verdict(results["data_wait"], args.workers))
    print(verdicts[-1], flush=True)

    results["verdicts"] = verdicts
    publish(results, args.out)
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
