"""The run record names the base model as the user named it (plugins.model_identity), and evaluation of a copied
adapter whose recorded model folder is gone turns to the hub id it records and says so (evaluation.settings)."""

import json

import pytest
from huggingface_hub import constants

from evaluation.settings import resolve_run
from plugins.llamafactory_cli import record_training
from plugins.model_identity import base_model_identity
from plugins.run_inputs import read_run_inputs, write_run_inputs
from tests.training_fixtures import REPO_ROOT

COMMIT = "0123456789abcdef0123456789abcdef01234567"
HUB_ID = "Org/Tiny-VL"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """A hub cache holding HUB_ID at COMMIT (refs/main points there), used as the user's HF_HUB_CACHE."""
    repo = tmp_path / "hub" / "models--Org--Tiny-VL"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return snapshot


def test_a_local_folder_is_named_as_given_and_made_absolute(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    identity = base_model_identity("models/tiny-qwen2vl", "main")
    assert identity == {"as_given": "models/tiny-qwen2vl", "path": str(REPO_ROOT / "models" / "tiny-qwen2vl"),
                        "hub_id": None, "revision": "main", "commit": None}  # fmt: skip


def test_a_hub_id_names_the_snapshot_commit_it_loads(hub_cache):
    assert base_model_identity(HUB_ID, "main") == {"as_given": HUB_ID, "path": None, "hub_id": HUB_ID,
                                                   "revision": "main", "commit": COMMIT}  # fmt: skip
    assert base_model_identity("Org/Not-Cached", "main")["commit"] is None  # downloaded when training starts


def test_a_snapshot_folder_names_its_hub_id_and_commit(hub_cache):
    identity = base_model_identity(str(hub_cache), "main")
    assert identity["path"] == str(hub_cache) and identity["hub_id"] == HUB_ID and identity["commit"] == COMMIT


def test_training_records_the_model_as_named(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.chdir(REPO_ROOT)
    config = tmp_path / "train.yaml"
    config.write_text(json.dumps({"model_name_or_path": "models/tiny-qwen2vl", "template": "qwen2_vl_exact",
                                  "dataset": "x_train", "output_dir": str(tmp_path / "saves")}))  # fmt: skip
    record_training([str(config)], local_rank=None)  # what llamafactory-cli train records (plugins.train alike)
    record = read_run_inputs(tmp_path / "saves")
    assert record.base_model["as_given"] == "models/tiny-qwen2vl" and record.base_model["revision"] == "main"
    assert record.settings["model_name_or_path"] == str(REPO_ROOT / "models" / "tiny-qwen2vl")


def _copied_adapter(tmp_path, base_model: dict) -> str:
    settings = {"model_name_or_path": str(tmp_path / "gone" / "snapshot"), "template": "qwen2_vl_exact",
                "video_maxlen": 4, "dataset": ["x_train"], "dataset_dir": str(tmp_path)}  # fmt: skip
    write_run_inputs(tmp_path / "adapter", settings, source=["train.yaml"], base_model=base_model)
    return str(tmp_path / "adapter")


def test_evaluation_turns_to_the_recorded_hub_id_when_the_recorded_folder_is_gone_and_says_so(tmp_path):
    gone = str(tmp_path / "gone" / "snapshot")
    adapter = _copied_adapter(tmp_path, {"as_given": gone, "path": gone, "hub_id": HUB_ID, "commit": COMMIT})
    run = resolve_run(None, adapter_path=adapter)
    assert run.settings.base_model == HUB_ID and run.settings.video_maxlen == 4
    assert any(gone in note and "does not exist here" in note and HUB_ID in note for note in run.notes)


def test_without_a_hub_id_the_missing_folder_stays_and_is_refused_later(tmp_path):
    gone = str(tmp_path / "gone" / "snapshot")
    adapter = _copied_adapter(tmp_path, {"as_given": "models/x", "path": gone, "hub_id": None})
    assert resolve_run(None, adapter_path=adapter).settings.base_model == gone  # model_source names it, not a guess


def _hub_adapter(tmp_path, revision: str, commit: str | None) -> str:
    """An adapter trained on HUB_ID named by hub id at ``revision``, whose cached snapshot was ``commit``."""
    settings = {"model_name_or_path": HUB_ID, "model_revision": revision, "template": "qwen2_vl_exact",
                "dataset": ["x_train"], "dataset_dir": str(tmp_path)}  # fmt: skip
    identity = {"as_given": HUB_ID, "path": None, "hub_id": HUB_ID, "revision": revision, "commit": commit}
    write_run_inputs(tmp_path / "adapter", settings, source=["train.yaml"], base_model=identity)
    return str(tmp_path / "adapter")


def test_evaluation_loads_the_hub_snapshot_training_used_not_todays_main(tmp_path):
    run = resolve_run(None, adapter_path=_hub_adapter(tmp_path, "main", COMMIT))
    assert run.settings.base_model == HUB_ID
    assert run.settings.to_llamafactory_args()["model_revision"] == COMMIT  # main may have moved since training
    assert any(COMMIT in note and "snapshot" in note for note in run.notes)


def test_evaluation_keeps_the_recorded_revision_when_no_snapshot_was_recorded(tmp_path):
    run = resolve_run(None, adapter_path=_hub_adapter(tmp_path, "v1.0", None))
    assert run.settings.to_llamafactory_args()["model_revision"] == "v1.0"


def test_the_relocated_hub_id_also_loads_the_trained_snapshot(tmp_path):
    gone = str(tmp_path / "gone" / "snapshot")
    adapter = _copied_adapter(tmp_path, {"as_given": gone, "path": gone, "hub_id": HUB_ID, "commit": COMMIT})
    assert resolve_run(None, adapter_path=adapter).settings.to_llamafactory_args()["model_revision"] == COMMIT


def test_another_base_model_given_explicitly_is_loaded_at_its_default_revision(tmp_path):
    run = resolve_run(None, adapter_path=_hub_adapter(tmp_path, "main", COMMIT), base_model=HUB_ID)
    assert run.settings.to_llamafactory_args()["model_revision"] == COMMIT  # the same model: still the trained one
    run = resolve_run(
        None, adapter_path=_hub_adapter(tmp_path, "main", COMMIT), base_model="Org/Other", allow_base_mismatch=True
    )
    assert run.settings.to_llamafactory_args()["model_revision"] == "main"


def test_the_model_source_check_looks_for_the_pinned_snapshot(hub_cache, monkeypatch):
    from plugins.model_source import ModelSourceError, describe_model_source

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert str(hub_cache) in describe_model_source(HUB_ID, "base model", revision=COMMIT)
    other = "f" * 40  # main's snapshot is cached, the one training loaded is not
    with pytest.raises(ModelSourceError, match=f"at revision {other}.*hf download {HUB_ID} --revision {other}"):
        describe_model_source(HUB_ID, "base model", revision=other)
