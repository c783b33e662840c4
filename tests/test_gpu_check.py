"""The prepared GPU check runs end to end on CPU (--device cpu --tiny) and writes its three sections.

python -m pytest -q tests/test_gpu_check.py            # the slow end-to-end run is marked slow
"""

import json
import os
import subprocess
import sys
from numbers import Real

import pytest

from bench.gpu_check import memory_verdict, synthetic_batch
from tests.training_fixtures import REPO_ROOT


@pytest.mark.slow
def test_gpu_check_on_cpu_writes_the_three_sections(tiny_model_dir, sample_dir, tmp_path):
    out = tmp_path / "gpu_check.json"
    command = [sys.executable, "-m", "bench.gpu_check", "--device", "cpu", "--tiny", "--steps", "1", "--warmup", "1",
               "--wait-steps", "1", "--workers", "2", "--clips", "4", "--clips-dir", str(sample_dir / "videos"),
               "--out", str(out)]  # fmt: skip
    result = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True,
                            text=True, timeout=900, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads(out.read_text())

    assert [row["batch"] for row in results["memory"]] == [1, 4]
    for row in results["memory"]:
        assert isinstance(row["plan_bytes"], int) and row["plan_bytes"] == sum(row["plan_terms"].values()) > 0
        assert row["peak_reserved_bytes"] is None  # no CUDA allocator on CPU: not measured, not made up
    assert results["memory"][1]["plan_terms"]["activations"] > results["memory"][0]["plan_terms"]["activations"]
    assert results["step"]["batch"] == 4 and isinstance(results["step"]["median_s"], Real)
    assert results["step"]["median_s"] > 0
    for path in ("stock decode", "frame store"):
        row = results["data_wait"][path]
        assert isinstance(row["wait_s"], Real) and 0 <= row["wait_s"] < row["step_s"]
        assert 0 <= row["wait_share"] < 1
    assert len(results["verdicts"]) == 4
    for verdict in results["verdicts"]:
        assert verdict in result.stdout


def test_synthetic_batch_holds_the_clips_video_tokens(tiny_model_dir):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_model_dir)
    settings = {"video_maxlen": 8, "video_max_pixels": 224 * 224}
    batch = synthetic_batch(config, settings, tokens=330, batch=2, device="cpu")

    assert batch["input_ids"].shape == (2, 330)
    video = batch["input_ids"] == config.video_token_id
    assert video.sum(dim=1).tolist() == [256, 256]  # (8 / 2) x (224 / 14)^2 / 2^2, as the config's comment says
    assert batch["video_grid_thw"].tolist() == [[4, 16, 16]] * 2
    assert batch["pixel_values_videos"].shape[0] == 2 * 4 * 16 * 16
    assert (batch["mm_token_type_ids"] == 2).equal(video)
    assert (batch["labels"][video] == -100).all()


def test_memory_verdict_names_a_plan_below_the_measured_peak():
    row = {"batch": 4, "tokens": 330, "plan_bytes": 18 * 2**30, "peak_reserved_bytes": 20 * 2**30,
           "peak_allocated_bytes": 19 * 2**30, "plan_error_vs_reserved_pct": -10.0}  # fmt: skip
    assert memory_verdict(row).endswith("plan -10.0 % vs reserved: plan too LOW")
    assert memory_verdict({**row, "plan_error_vs_reserved_pct": 5.0}).endswith("plan holds")
    assert memory_verdict({**row, "plan_error_vs_reserved_pct": 40.0}).endswith("plan LOOSE")
