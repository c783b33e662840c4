"""`make demo MODEL=<family>`, shortened: demo.py with each family's tiny demo config, end to end in a scratch
workspace (sample data -> convert -> preflight + LoRA training -> evaluation of base and adapter); assert on what it
writes. Qwen2-VL's default demo is tests/test_demo.py."""

import json
import subprocess
import sys

import pytest

from evaluation.metrics import METRIC_KEYS
from plugins.run_config import load_run_config
from tests.training_fixtures import REPO_ROOT

# family -> (demo config, conftest fixture that builds its tiny model, template the config must name)
FAMILY_DEMOS = {
    "qwen2_5_vl": ("configs/tiny_qwen2_5vl_demo.yaml", "tiny_qwen2_5vl_dir", "qwen2_vl_exact"),
    "qwen3_vl": ("configs/tiny_qwen3vl_demo.yaml", "tiny_qwen3vl_dir", "qwen3_vl_nothink_exact"),
    "qwen3_5": ("configs/tiny_qwen3_5_demo.yaml", "tiny_qwen3_5_dir", "qwen3_5_nothink_exact"),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILY_DEMOS))
def test_family_demo_trains_evaluates_and_the_loss_falls(family, request, tmp_path):
    config, fixture, template = FAMILY_DEMOS[family]
    model_dir = request.getfixturevalue(fixture)
    settings = load_run_config(REPO_ROOT / config)
    assert settings["template"] == template and (REPO_ROOT / settings["model_name_or_path"]) == model_dir

    workspace, out_dir = tmp_path / "workspace", tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "demo.py", "--config", config, "--clips", "20", "--workspace", str(workspace),
         "--out-dir", str(out_dir), "num_train_epochs=3", "logging_steps=1"],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert f"template {template}" in log, "the preflight names the exact template it checked with"

    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["config"] == config
    for model in ("base", "finetuned"):
        assert set(metrics[model]) == set(METRIC_KEYS)
        assert metrics["counts"][model]["samples"] >= 1 and metrics["counts"][model]["errors"] == 0
    assert metrics["loss"]["last"] < metrics["loss"]["first"], "the training loss must fall"

    run_inputs = json.loads((workspace / settings["output_dir"] / "run_inputs.json").read_text())
    assert run_inputs["settings"]["template"] == template, "the adapter records the template it was trained with"
    assert (workspace / settings["output_dir"] / "adapter_config.json").is_file()
    assert (out_dir / "report.html").is_file() and (out_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"
