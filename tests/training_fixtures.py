"""Helpers for tests that drive our real entry points (`python -m plugins.train`, `python -m plugins.export`).

A tiny ShareGPT dataset of sample clips and a tiny-model training YAML are written into the test's tmp dir, so a
run touches nothing outside it; entry points run as subprocesses from the repo root, as a user runs them
(run_entry_point), or, where the process itself is not under test, their main() in the test's own process
(run_main: no interpreter start and library import per run).
"""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROMPT = "<video>Describe this video in one sentence."
DATASET_NAME = "tiny_train"
SMALL_FRAME_PIXELS = 112 * 112  # 8 frames -> 4 x 8 x 8 / 4 = 64 video tokens: fast on CPU, the real token math


def write_dataset(directory: Path, clips: list[Path], name: str = DATASET_NAME) -> None:
    """A ShareGPT dataset ``name`` (one record per clip, caption "caption {i}") and its dataset_info.json."""
    records = [
        {"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": f"caption {i}"}],
         "videos": [str(clip)]}
        for i, clip in enumerate(clips)
    ]  # fmt: skip
    (directory / f"{name}.json").write_text(json.dumps(records))
    info = {name: {"file_name": f"{name}.json", "formatting": "sharegpt",
                   "columns": {"messages": "messages", "videos": "videos"},
                   "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                            "assistant_tag": "assistant"}}}  # fmt: skip
    (directory / "dataset_info.json").write_text(json.dumps(info))


def sample_clips(sample_dir: Path, count: int) -> list[Path]:
    """The first ``count`` sample clips, in a stable order."""
    return sorted((sample_dir / "videos").rglob("*.mp4"))[:count]


def write_train_config(tmp_path: Path, tiny_model_dir: Path, sample_dir: Path, n_clips: int = 4, **overrides) -> Path:
    """tmp_path/tiny_train.yaml: LoRA SFT of the tiny model on ``n_clips`` sample clips; ``overrides`` win."""
    write_dataset(tmp_path, sample_clips(sample_dir, n_clips))
    config = {
        "model_name_or_path": str(tiny_model_dir), "trust_remote_code": False,
        "stage": "sft", "do_train": True, "finetuning_type": "lora", "lora_target": "all", "lora_rank": 4,
        "dataset": DATASET_NAME, "dataset_dir": str(tmp_path), "template": "qwen2_vl_exact", "cutoff_len": 1024,
        "video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": SMALL_FRAME_PIXELS,
        "output_dir": str(tmp_path / "saves"), "overwrite_output_dir": True, "report_to": "none",
        "per_device_train_batch_size": 1, "gradient_accumulation_steps": 1, "max_steps": 2,
        "logging_steps": 1, "save_strategy": "no", "learning_rate": 1.0e-3, "dataloader_num_workers": 0,
        **overrides,
    }  # fmt: skip
    path = tmp_path / "tiny_train.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML; the .yaml suffix is what LLaMA-Factory reads by
    return path


def run_entry_point(
    module: str, config: Path, *overrides: str, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """`python -m MODULE CONFIG key=value ...` from the repo root, output captured (MODULE may name a command
    too: "plugins.frames build")."""
    return subprocess.run(
        [sys.executable, "-m", *module.split(), str(config), *overrides],
        cwd=REPO_ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def run_main(module: str, *args: str, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """`python -m MODULE ARGS...` as its main() in this process (MODULE may name a command too: "plugins.frames
    build"), under the sys.argv the interpreter would set; the exit status and printed text are the process's: a
    SystemExit message is printed to stderr with status 1, as the interpreter does. An exception that escapes main()
    (which the process would print as a traceback) fails the test where it is raised."""
    module, *command = module.split()
    main = importlib.import_module(module).main
    monkeypatch.setattr(sys, "argv", [module, *command, *args])
    code = 0
    try:
        main()
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        err, code = f"{err}{code}\n", 1
    return subprocess.CompletedProcess([module, *command, *args], code, out, err)


def log_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr
