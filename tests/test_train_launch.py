"""`python -m plugins.train` under torchrun: the launch forwards LLaMA-Factory's launcher settings, and killing the
launcher stops the training workers (nothing left training, unseen, on the GPUs)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plugins.train import torchrun_command, torchrun_env
from tests.training_fixtures import REPO_ROOT, write_train_config

LAUNCH_ENV = (
    "NNODES",
    "NODE_RANK",
    "NPROC_PER_NODE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "RDZV_ID",
    "MIN_NNODES",
    "MAX_NNODES",
    "MAX_RESTARTS",
    "OPTIM_TORCH",
)


@pytest.fixture
def launch_env(monkeypatch):
    for key in LAUNCH_ENV:
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_static_launch_reads_llamafactorys_environment(launch_env):
    for key, value in {
        "NNODES": "2",
        "NODE_RANK": "1",
        "NPROC_PER_NODE": "8",
        "MASTER_ADDR": "10.0.0.1",
        "MASTER_PORT": "29500",
        "MAX_RESTARTS": "3",
    }.items():
        launch_env.setenv(key, value)
    command = torchrun_command(["c.yaml", "lr=1"])
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert " ".join(command[3:]) == (
        "--nnodes 2 --node_rank 1 --nproc_per_node 8 --master_addr 10.0.0.1 "
        "--master_port 29500 --max-restarts 3 -m plugins.train_worker c.yaml lr=1"
    )


def test_elastic_launch_uses_c10d_rendezvous(launch_env):
    for key, value in {
        "RDZV_ID": "job7",
        "MIN_NNODES": "1",
        "MAX_NNODES": "4",
        "NPROC_PER_NODE": "8",
        "MASTER_ADDR": "head",
        "MASTER_PORT": "29400",
        "MAX_RESTARTS": "2",
    }.items():
        launch_env.setenv(key, value)
    assert " ".join(torchrun_command(["c.yaml"])[3:]) == (
        "--nnodes 1:4 --nproc-per-node 8 --rdzv-id job7 --rdzv-backend c10d --rdzv-endpoint head:29400 "
        "--max-restarts 2 -m plugins.train_worker c.yaml"
    )
    launch_env.delenv("MAX_NNODES")
    with pytest.raises(SystemExit, match="both MIN_NNODES and MAX_NNODES"):
        torchrun_command(["c.yaml"])


def test_optim_torch_sets_llamafactorys_ddp_settings_unless_disabled(launch_env):
    launch_env.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    assert torchrun_env()["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"  # on by default, as in LF
    launch_env.setenv("OPTIM_TORCH", "0")
    assert "PYTORCH_CUDA_ALLOC_CONF" not in torchrun_env()


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.slow
def test_killing_the_launcher_stops_the_training_worker(tiny_model_dir, sample_dir, tmp_path):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, max_steps=10_000)
    marker = f"{config}"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "plugins.train", str(config)],
        cwd=REPO_ROOT,
        env={**os.environ, "FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not [pid for pid in _processes_mentioning(marker) if pid != launcher.pid]:
            assert launcher.poll() is None, "the launch ended before a worker started"
            assert time.monotonic() < deadline, "no training worker within the time limit"
            time.sleep(0.2)
        time.sleep(2)
        launcher.send_signal(signal.SIGTERM)  # as `kill PID` or a scheduler's preemption would
        launcher.wait(timeout=60)
        deadline = time.monotonic() + 60
        while _processes_mentioning(marker):
            assert time.monotonic() < deadline, "a training worker outlived its launcher"
            time.sleep(0.2)
    finally:
        for pid in _processes_mentioning(marker):
            os.kill(pid, signal.SIGKILL)
