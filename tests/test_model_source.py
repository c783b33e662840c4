"""A user's real run reaches its model: a hub id resolves through the user's own Hugging Face cache (HF_HOME,
HF_HUB_OFFLINE), never a project-local one; a model that cannot be found fails in one sentence with the fix.

The hub is simulated: the tiny model is put into a standard hub-cache layout
(``HF_HOME/hub/models--ORG--NAME/snapshots/REV/`` + ``refs/main``) under a temporary HF_HOME and named by hub id.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import plugins.model_source as model_source
from plugins.model_source import ModelSourceError, describe_model_source
from tests.training_fixtures import REPO_ROOT, log_of, run_main, write_train_config

HUB_ID = "tiny-org/tiny-qwen2vl-hub"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def hub_cache_with_tiny_model(hf_home: Path, tiny_model_dir: Path) -> Path:
    """HF_HOME/hub holding the tiny model as HUB_ID at REVISION, as `hf download` leaves it."""
    repo = hf_home / "hub" / f"models--{HUB_ID.replace('/', '--')}"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return repo


def user_env(hf_home: Path) -> dict[str, str]:
    """The environment of a user whose Hugging Face cache is ``hf_home`` (offline: this machine has no hub)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "XDG_CACHE"))}
    return {**env, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}


def describe_in(env: dict[str, str], name: str) -> subprocess.CompletedProcess:
    code = "import sys; from plugins.model_source import describe_model_source as d; print(d(sys.argv[1]))"
    return subprocess.run([sys.executable, "-c", code, name], cwd=REPO_ROOT, env=env, capture_output=True, text=True)


def test_hub_id_resolves_from_the_users_cache(tiny_model_dir, tmp_path):
    repo = hub_cache_with_tiny_model(tmp_path / "hf", tiny_model_dir)
    found = describe_in(user_env(tmp_path / "hf"), HUB_ID)
    assert found.returncode == 0 and f"hub id {HUB_ID}, cached snapshot {repo / 'snapshots' / REVISION}" in found.stdout
    missing = describe_in(user_env(tmp_path / "empty"), HUB_ID)
    assert missing.returncode != 0 and "not in the Hugging Face cache" in missing.stderr
    assert "hf download tiny-org/tiny-qwen2vl-hub" in missing.stderr


@pytest.fixture
def silent_hub():
    """HF_ENDPOINT of a hub that accepts connections and never answers (a blackholed address, on this machine)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)  # connections complete in the kernel's backlog; nothing ever replies
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def online_env(hf_home: Path, endpoint: str) -> dict[str, str]:
    """A user without HF_HUB_OFFLINE whose hub is ``endpoint``."""
    env = {key: value for key, value in user_env(hf_home).items() if key != "HF_HUB_OFFLINE"}
    return {**env, "HF_ENDPOINT": endpoint}


@pytest.mark.slow  # fresh interpreters in a user's environment, against a hub that never answers
def test_unreachable_hub_and_a_cached_model_says_set_hf_hub_offline_in_seconds(tiny_model_dir, tmp_path, silent_hub):
    repo = hub_cache_with_tiny_model(tmp_path / "hf", tiny_model_dir)
    started = time.monotonic()
    cached = describe_in(online_env(tmp_path / "hf", silent_hub), HUB_ID)
    assert time.monotonic() - started < 30  # one short probe, not transformers' minutes of retries
    assert cached.returncode != 0
    assert f"the hub {silent_hub} cannot be reached" in cached.stderr and "set HF_HUB_OFFLINE=1" in cached.stderr
    assert str(repo / "snapshots" / REVISION) in cached.stderr
    missing = describe_in(online_env(tmp_path / "empty", silent_hub), HUB_ID)
    assert missing.returncode != 0 and "not in the Hugging Face cache" in missing.stderr
    assert f"hf download {HUB_ID}" in missing.stderr


def test_preflight_names_its_model_source_and_a_missing_hub_model_in_one_sentence(
    tiny_model_dir, sample_dir, tmp_path, monkeypatch, capsys
):
    """The suite's own Hugging Face cache (offline) holds no HUB_ID; a user's cache is test_hub_id_resolves_...'s."""
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=1, model_name_or_path=HUB_ID)
    result = run_main("plugins.preflight", str(config), monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"preflight FAILED: model_name_or_path={HUB_ID}: not in the Hugging Face cache" in result.stderr
    assert f"hf download {HUB_ID}" in result.stderr


def test_unbuilt_tiny_model_says_make_tiny_model(tmp_path, monkeypatch):
    monkeypatch.setattr(model_source, "TINY_MODEL_DIR", tmp_path / "models" / "tiny-qwen2vl")
    with pytest.raises(ModelSourceError, match="run `make tiny-model`"):
        describe_model_source(str(tmp_path / "models" / "tiny-qwen2vl"))


@pytest.mark.parametrize("name", ["tiny-qwen2_5vl", "tiny-qwen3vl", "tiny-qwen3_5"])
def test_unbuilt_family_tiny_model_says_make_tiny_model(name, tmp_path, monkeypatch):
    monkeypatch.setattr(model_source, "FAMILY_TINY_MODEL_DIRS", (tmp_path / "models" / name,))
    with pytest.raises(ModelSourceError, match="run `make tiny-model`"):
        describe_model_source(str(tmp_path / "models" / name))


@pytest.mark.parametrize("name", ["models/not-built", "./here", "/no/such/folder"])
def test_missing_local_folder_is_named(name):
    with pytest.raises(ModelSourceError, match="no such folder"):
        describe_model_source(name)


def test_train_entry_point_refuses_a_missing_model_before_anything_else(
    tmp_path, tiny_model_dir, sample_dir, monkeypatch, capsys
):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, model_name_or_path="models/not-built")
    result = run_main("plugins.train", str(config), monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode != 0
    assert "cannot train: model_name_or_path=models/not-built: no such folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_refuses_to_overwrite_its_base_model(tmp_path, tiny_model_dir, monkeypatch, capsys):
    merge = REPO_ROOT / "configs" / "merge" / "tiny_qwen2vl_demo_merge.yaml"
    overrides = (f"model_name_or_path={tiny_model_dir}", f"export_dir={tiny_model_dir}")
    result = run_main("plugins.export", str(merge), *overrides, monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode != 0 and "would overwrite it" in result.stderr
    assert (tiny_model_dir / "config.json").is_file()


@pytest.mark.slow
def test_make_targets_and_evaluation_run_on_a_hub_id_from_the_users_cache(tiny_model_dir, sample_dir, tmp_path):
    """`make preflight`, a 1-step `make train` and evaluate_model.py with the model named by hub id."""
    hf_home = tmp_path / "hf"
    hub_cache_with_tiny_model(hf_home, tiny_model_dir)
    env = user_env(hf_home)
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=2, model_name_or_path=HUB_ID, max_steps=1)

    def make(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)

    preflight = make("preflight", f"CONFIG={config}")
    assert preflight.returncode == 0, log_of(preflight)[-3000:]
    assert "ok: every sample fits" in preflight.stdout
    trained = make("train", f"CONFIG={config}")
    assert trained.returncode == 0, log_of(trained)[-3000:]
    assert f"model: hub id {HUB_ID}, cached snapshot {hf_home / 'hub'}" in trained.stdout
    assert (tmp_path / "saves" / "adapter_config.json").is_file()

    test_data = tmp_path / "test.json"
    records = json.loads((tmp_path / "tiny_train.json").read_text())
    test_data.write_text(json.dumps([{**record, "id": str(i)} for i, record in enumerate(records)]))
    evaluated = subprocess.run(
        [sys.executable, "evaluate_model.py", "--base-model", HUB_ID, "--adapter-path", str(tmp_path / "saves"),
         "--test-data", str(test_data), "--video-dir", "/", "--output-dir", str(tmp_path / "results"),
         "--max-new-tokens", "4", "--num-workers", "0"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert evaluated.returncode == 0, log_of(evaluated)[-3000:]
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert metrics["counts"]["samples"] == 2 and metrics["counts"]["errors"] == 0
