"""Helpers for the evaluation tests: ShareGPT test sets of sample clips, a LoRA adapter, the CLI as a subprocess."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import torch

PROMPT = "<video>Describe this video in one sentence."
REPO_ROOT = Path(__file__).resolve().parents[1]


def sharegpt_record(video: str, caption: str, record_id: str | None = None) -> dict:
    record = {
        "messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": caption}],
        "videos": [video],
    }
    if record_id is not None:
        record["id"] = record_id
    return record


def write_test_set(tmp_dir: Path, sample_dir: Path, count: int, with_bad_clips: bool = True) -> Path:
    """ShareGPT test set of the shortest sample clips (paths relative to the repo root), + a missing and a corrupt
    clip."""
    with open(sample_dir / "webvid.csv", newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda row: (row["duration"], row["videoid"]))[:count]  # shortest
    records = [
        sharegpt_record(
            str((sample_dir / "videos" / r["page_dir"] / f"{r['videoid']}.mp4").relative_to(REPO_ROOT)),
            r["name"],
            r["videoid"],
        )
        for r in rows
    ]
    if with_bad_clips:
        corrupt = tmp_dir / "corrupt.mp4"
        corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
        records.append(sharegpt_record("data/sample/videos/no_such_dir/missing.mp4", "A missing clip", "missing"))
        records.append(sharegpt_record(str(corrupt), "A corrupt clip", "corrupt"))
    path = tmp_dir / "webvid_test.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def make_lora_adapter(model_dir: Path, out_dir: Path, model=None) -> Path:
    """A LoRA adapter saved by peft on q_proj/v_proj, with random B so it changes the answers."""
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2VLForConditionalGeneration

    model = model or Qwen2VLForConditionalGeneration.from_pretrained(model_dir)
    torch.manual_seed(0)
    peft_model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(out_dir)
    return out_dir


def evaluate_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """`python evaluate_model.py ARGS` as a user runs it, output captured, whatever its exit status."""
    return subprocess.run(
        [sys.executable, "evaluate_model.py", *args], cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """evaluate_cli that must succeed."""
    result = evaluate_cli(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return result
