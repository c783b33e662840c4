"""`python -m plugins.train` end to end on the tiny model: one process, and two CPU processes under torchrun."""

import json
import os
import subprocess
import sys

import pytest

from tests.test_train_eval_parity import _write_dataset

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write_config(tmp_path, tiny_model_dir, sample_dir):
    _write_dataset(tmp_path, sorted((sample_dir / "videos").rglob("*.mp4"))[:4])
    config = {
        "model_name_or_path": str(tiny_model_dir), "trust_remote_code": False,
        "stage": "sft", "do_train": True, "finetuning_type": "lora", "lora_target": "all", "lora_rank": 4,
        "dataset": "parity", "dataset_dir": str(tmp_path), "template": "qwen2_vl_exact", "cutoff_len": 1024,
        "video_maxlen": 8, "video_fps": 8.0, "video_max_pixels": 112 * 112,
        "output_dir": str(tmp_path / "saves"), "overwrite_output_dir": True, "report_to": "none",
        "per_device_train_batch_size": 1, "gradient_accumulation_steps": 1, "max_steps": 2,
        "logging_steps": 1, "save_strategy": "no", "learning_rate": 1.0e-3, "dataloader_num_workers": 0,
    }  # fmt: skip
    path = tmp_path / "tiny_train.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML; the .yaml suffix is what LLaMA-Factory reads by
    return path


def _run_train(config, extra_env, *overrides):
    env = {**os.environ, **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "plugins.train", str(config), *overrides],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_two_cpu_processes_under_torchrun_both_have_the_plugin(tiny_model_dir, sample_dir, tmp_path):
    config = _write_config(tmp_path, tiny_model_dir, sample_dir)
    result = _run_train(config, {"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"})
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "-m plugins.train_worker" in log
    assert "world size: 2" in log  # LLaMA-Factory logs every rank's process group
    # a template only our plugin registers was resolved in each rank: training finished and saved once
    assert (tmp_path / "saves" / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "saves" / "train_results.json").read_text())["epoch"] > 0


@pytest.mark.slow
def test_a_config_naming_our_template_fails_loudly_without_the_plugin(tiny_model_dir, sample_dir, tmp_path):
    config = _write_config(tmp_path, tiny_model_dir, sample_dir)
    result = subprocess.run(
        [sys.executable, "-m", "llamafactory.cli", "train", str(config)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Template qwen2_vl_exact does not exist" in result.stderr
