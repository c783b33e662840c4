"""`python -m plugins.train` end to end on the tiny model: one process, and two CPU processes under torchrun."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.overlay_venv import make_overlay_venv
from tests.training_fixtures import REPO_ROOT, log_of, run_entry_point, write_train_config


@pytest.mark.slow
def test_two_cpu_processes_under_torchrun_both_have_the_plugin(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir)
    result = run_entry_point("plugins.train", config, env={"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"})
    log = log_of(result)
    assert result.returncode == 0, log[-4000:]
    assert "-m plugins.train_worker" in log
    full_log = (tmp_path / "saves" / "train.log").read_text()  # LLaMA-Factory logs every rank's process group
    assert "Process rank: 0, world size: 2" in full_log and "Process rank: 1, world size: 2" in full_log
    # a template only our plugin registers was resolved in each rank: training finished and saved once
    assert (tmp_path / "saves" / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "saves" / "train_results.json").read_text())["epoch"] > 0


@pytest.mark.slow
def test_a_config_naming_our_template_fails_loudly_without_the_plugin(tiny_model_dir, sample_dir, tmp_path):
    """In a venv without the start-up hook (`make setup` installs it: tests/test_autoload.py)."""
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir)
    bin_dir = make_overlay_venv(tmp_path / "venv", with_hook=False)
    result = subprocess.run(
        [str(bin_dir / "python"), "-m", "llamafactory.cli", "train", str(config)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Template qwen2_vl_exact does not exist" in result.stderr


@pytest.mark.slow
def test_plain_llamafactory_cli_trains_a_lora_step_on_the_tiny_model(tiny_model_dir, sample_dir, tmp_path):
    """The embedded model is a real Qwen2-VL to LLaMA-Factory: its own CLI and stock template train it on CPU."""
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, template="qwen2_vl", max_steps=1)
    cli = Path(sys.executable).parent / "llamafactory-cli"
    result = subprocess.run([str(cli), "train", str(config)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=600, check=False)  # fmt: skip
    assert result.returncode == 0, log_of(result)[-4000:]
    assert (tmp_path / "saves" / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "saves" / "trainer_state.json").read_text())["global_step"] == 1
