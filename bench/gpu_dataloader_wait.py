"""Share of each training step spent waiting for data: LLaMA-Factory's stock decode vs the frame store (CUDA only).

    # a CUDA machine with this repo, its pinned packages (llamafactory==0.9.5 ...) and the sample clips:
    python -m bench.gpu_dataloader_wait                                   # 40 steps per path, 8 data workers
    python -m bench.gpu_dataloader_wait --steps 60 --workers 8 --out results/gpu_dataloader_wait.json

The Qwen2-VL-7B architecture with random weights (plugins.released_architectures' sizes, bf16, on the GPU; token
ids from the embedded tiny tokenizer, whose processor has the real patch 14 / merge 2, so video token math is the
real one), LoRA as --config says (lora_rank, lora_alpha, lora_dropout, lora_target; everything else frozen; gradient
checkpointing unless disable_gradient_checkpointing, as LLaMA-Factory does). The
sample clips are tokenized through LLaMA-Factory's get_dataset and batched by its SFT collator (the one its trainer
uses) in a torch DataLoader of --workers processes. Two paths, same model and batches: template qwen2_vl (stock:
every step decodes every frame of every clip) and qwen2_vl_exact reading the frame store, built first. Per path:
mean step time, time blocked in next(loader) and its share (first --warmup steps dropped: worker start-up).
Written for the GPU machine and not run in the session that wrote it (no GPU was lent): no result recorded yet.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "models" / "tiny-qwen2vl"
RELEASED_7B = "Qwen/Qwen2-VL-7B-Instruct"  # built from plugins.released_architectures: the sizes the plan counts
TOKEN_IDS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")


@dataclass(frozen=True)
class WaitRun:
    """How measure_paths runs: the tokenizer's model directory, a scratch folder, step counts, loader workers."""

    model_dir: Path
    work: Path
    steps: int
    warmup: int
    workers: int
    device: str = "cuda"


def build_model(lora: dict, architecture: str = RELEASED_7B, device: str = "cuda"):
    """Random-init ``architecture`` (a hub id of plugins.released_architectures or a local model directory) in bf16
    on ``device``, with the tiny tokenizer's token ids; LoRA on the language model as configured, all else frozen."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForImageTextToText

    from plugins.released_architectures import model_config

    config = model_config(architecture)[0]
    tiny = AutoConfig.from_pretrained(TINY)
    for key in TOKEN_IDS:
        setattr(config, key, getattr(tiny, key))
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = AutoModelForImageTextToText.from_config(config)
    finally:
        torch.set_default_dtype(torch.float32)
    targets = [name.strip() for name in str(lora["lora_target"]).split(",")]
    peft_config = LoraConfig(r=lora["lora_rank"], lora_alpha=lora["lora_alpha"], lora_dropout=lora["lora_dropout"],
                             target_modules=targets)  # fmt: skip
    model = get_peft_model(model, peft_config)  # freezes everything but the adapters
    if not lora.get("disable_gradient_checkpointing"):  # LLaMA-Factory's default, and what plugins.plan counts
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def loader_for(settings: dict, model, workers: int):
    """LLaMA-Factory's tokenized train set and SFT collator for ``settings``, in a DataLoader of ``workers``."""
    import torch
    from llamafactory.data import SFTDataCollatorWith4DAttentionMask, get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    model_args, data_args, training_args, _, _ = get_train_args(settings)
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    dataset = get_dataset(template, model_args, data_args, training_args, "sft", **tokenizer_module)["train_dataset"]
    collator = SFTDataCollatorWith4DAttentionMask(template=template, model=model.base_model.model,
                                                  pad_to_multiple_of=8, label_pad_token_id=-100,
                                                  compute_dtype=torch.bfloat16, **tokenizer_module)  # fmt: skip
    return template, torch.utils.data.DataLoader(
        dataset, batch_size=settings["per_device_train_batch_size"], shuffle=True, num_workers=workers,
        collate_fn=collator, persistent_workers=True, pin_memory=True, prefetch_factor=2, drop_last=True,
    )  # fmt: skip


def time_steps(model, loader, steps: int, warmup: int, device: str = "cuda") -> dict:
    """Train ``steps`` steps; per step the seconds blocked in next(loader) and the whole step."""
    import torch

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    batches, waits, totals = iter(loader), [], []
    model.train()
    for _ in range(warmup + steps):
        start = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(loader)
            batch = next(batches)
        waited = time.perf_counter() - start
        batch = {k: v.to(device, non_blocking=True) if hasattr(v, "to") else v for k, v in batch.items()}
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device != "cpu":
            torch.cuda.synchronize()
        waits.append(waited)
        totals.append(time.perf_counter() - start)
    waits, totals = waits[warmup:], totals[warmup:]
    return {"steps": steps, "step_s": statistics.mean(totals), "step_median_s": statistics.median(totals),
            "wait_s": statistics.mean(waits), "wait_share": sum(waits) / sum(totals)}  # fmt: skip


def measure_paths(config: dict, model, clips: list[Path], run: WaitRun) -> dict:
    """Stock decode vs the frame store (built first, in run.work/frames) on the same model: time_steps' figures
    per path."""
    from frame_store.build import build_store
    from plugins.frame_source import builder_plugin, target_for_run, use_frame_source
    from tests.training_fixtures import DATASET_NAME, write_dataset

    work = run.work
    write_dataset(work, clips)
    results = {}
    for path, template_name in (("stock decode", "qwen2_vl"), ("frame store", "qwen2_vl_exact")):
        settings = {key: config[key] for key in ("video_maxlen", "video_fps", "video_max_pixels", "cutoff_len",
                                                 "per_device_train_batch_size", "lora_rank")}  # fmt: skip
        settings.update(model_name_or_path=str(run.model_dir), stage="sft", do_train=True, finetuning_type="lora",
                        dataset=DATASET_NAME, dataset_dir=str(work), template=template_name, overwrite_cache=True,
                        output_dir=str(work / "out"), report_to="none",
                        preprocessing_num_workers=min(8, os.cpu_count() or 1))  # fmt: skip
        template, loader = loader_for(settings, model, run.workers)
        if template_name == "qwen2_vl_exact":
            source = use_frame_source(template.mm_plugin, settings)  # work/frames; before the loader's workers start
            target = target_for_run(source, settings, template.mm_plugin)
            builder = builder_plugin(template.mm_plugin)
            print(build_store([str(clip) for clip in clips], target, builder, workers=os.cpu_count()).summary())
        results[path] = time_steps(model, loader, run.steps, run.warmup, run.device)
        row = results[path]
        print(f"{path:<14} step {row['step_s'] * 1e3:7.1f} ms  waiting for data {row['wait_s'] * 1e3:7.1f} ms "
              f"({row['wait_share']:.1%} of the step), {run.workers} workers", flush=True)  # fmt: skip
    return results


def main() -> None:
    """`python -m bench.gpu_dataloader_wait [--config YAML] [--steps N] [--workers K] [--out JSON]`."""
    import torch

    import plugins
    from plugins.run_config import load_run_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/qwen2vl_7b_lora_sft.yaml", help="LoRA and batch settings")
    parser.add_argument("--clips-dir", type=Path, default=REPO / "data" / "sample" / "videos")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8, help="DataLoader worker processes")
    parser.add_argument("--out", type=Path, help="also write the results here (JSON)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark measures a GPU's wait for data; run it on a GPU machine")

    plugins.register()
    config = load_run_config(args.config)
    clips = sorted(args.clips_dir.rglob("*.mp4"))
    model = build_model(config)
    results = {"date": time.strftime("%Y-%m-%d"), "gpu": torch.cuda.get_device_name(), "clips": len(clips),
               "workers": args.workers, "batch": config["per_device_train_batch_size"]}  # fmt: skip
    run = WaitRun(TINY, Path(tempfile.mkdtemp(prefix="gpu_dataloader_wait.")), args.steps, args.warmup, args.workers)
    results.update(measure_paths(config, model, clips, run))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
