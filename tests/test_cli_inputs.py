"""What a user types reaches a sentence, not a traceback: dataset files the run names (empty, not JSON, an object)
and key=value overrides LLaMA-Factory does not know, through the real entry points (preflight, train, frames), their
main() run in the test's process."""

import json
import subprocess
import sys

import pytest

from plugins.dataset_files import DatasetFileError, check_dataset_files
from tests.training_fixtures import DATASET_NAME, REPO_ROOT, log_of, run_main, write_train_config


def register(dataset_dir, name: str, content: str) -> None:
    """Add dataset ``name`` (file ``name``.json holding ``content``) to dataset_dir's dataset_info.json."""
    info_path = dataset_dir / "dataset_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info[name] = {**info.get(DATASET_NAME, {}), "file_name": f"{name}.json", "formatting": "sharegpt"}
    info_path.write_text(json.dumps(info))
    (dataset_dir / f"{name}.json").write_text(content)


RECORD = {"messages": [{"role": "user", "content": "<video>Describe"}, {"role": "assistant", "content": "a"}],
          "videos": ["a.mp4"]}  # fmt: skip


@pytest.mark.parametrize(("key", "content", "message"), [
    ("eval_dataset", "[]", r"eval_dataset webvid_val: .*webvid_val.json holds no samples; drop eval_dataset from the "
                           r"config or pass `eval_dataset= eval_strategy=no`.*larger --val-ratio"),
    ("dataset", "[]\n", r"dataset webvid_val: .*webvid_val.json holds no samples; convert more rows"),
    ("dataset", "", r"webvid_val.json holds no samples"),
    ("dataset", "videoid,name\n1,a\n", r"webvid_val.json is not JSON \(.*\); it must be a JSON list of ShareGPT"),
    ("dataset", json.dumps({"data": [RECORD]}, indent=1), r"webvid_val.json holds a JSON object, not a list"),
])  # fmt: skip
def test_dataset_files_that_cannot_be_trained_on_are_named_with_the_fix(tmp_path, key, content, message):
    register(tmp_path, "webvid_train", json.dumps([RECORD]))
    register(tmp_path, "webvid_val", content)
    settings = {"dataset": "webvid_train", "dataset_dir": str(tmp_path), key: "webvid_val"}
    with pytest.raises(DatasetFileError, match=message):
        check_dataset_files(settings)


def test_readable_dataset_files_pass(tmp_path):
    register(tmp_path, "webvid_train", json.dumps([RECORD]))
    register(tmp_path, "lines", "\n".join(json.dumps(RECORD) for _ in range(3)))  # JSON Lines in a .json file
    check_dataset_files({"dataset": "webvid_train,lines", "dataset_dir": str(tmp_path), "eval_dataset": None})


def test_unregistered_and_missing_dataset_files_are_named(tmp_path):
    register(tmp_path, "webvid_train", json.dumps([RECORD]))
    with pytest.raises(DatasetFileError, match=r"eval_dataset=webvid_val: Undefined dataset webvid_val"):
        check_dataset_files({"dataset": "webvid_train", "dataset_dir": str(tmp_path), "eval_dataset": "webvid_val"})
    (tmp_path / "webvid_train.json").unlink()
    with pytest.raises(DatasetFileError, match=r"dataset webvid_train: its file .*webvid_train.json does not exist"):
        check_dataset_files({"dataset": "webvid_train", "dataset_dir": str(tmp_path)})


def test_preflight_names_an_empty_eval_split_instead_of_a_datasets_traceback(
    tmp_path, tiny_model_dir, sample_dir, monkeypatch, capsys
):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=1, eval_dataset="tiny_val")
    register(tmp_path, "tiny_val", "[]")
    result = run_main("plugins.preflight", str(config), monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode == 1, log_of(result)[-2000:]
    assert "Traceback" not in result.stderr and "corresponds to no data" not in log_of(result)
    assert f"preflight FAILED: eval_dataset tiny_val: {tmp_path / 'tiny_val.json'} holds no samples" in result.stderr


@pytest.mark.parametrize(("module", "shown"), [
    ("plugins.preflight", "error: unknown setting cutof_len (a key=value)"),
    ("plugins.train", "cannot train: unknown setting cutof_len (a key=value)"),
    ("plugins.frames build", "error: unknown setting cutof_len (a key=value)"),
])  # fmt: skip
def test_an_unknown_key_is_one_sentence_in_every_entry_point(
    tmp_path, tiny_model_dir, sample_dir, module, shown, monkeypatch, capsys
):
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=1)
    result = run_main(module, str(config), "cutof_len=4", monkeypatch=monkeypatch, capsys=capsys)
    assert result.returncode != 0 and "Traceback" not in result.stderr, log_of(result)[-2000:]
    assert shown in result.stderr
    empty = run_main(module, str(config), "=4", monkeypatch=monkeypatch, capsys=capsys)
    assert empty.returncode != 0 and "Traceback" not in empty.stderr, log_of(empty)[-2000:]
    assert "override =4 has no key" in empty.stderr


@pytest.mark.slow
def test_train_reads_no_as_text_where_llamafactory_wants_text(tmp_path, tiny_model_dir, sample_dir):
    """`eval_strategy=no save_strategy=no` (OmegaConf reads no as False) reach LLaMA-Factory as "no"."""
    config = write_train_config(tmp_path, tiny_model_dir, sample_dir, n_clips=1, max_steps=1)
    result = subprocess.run(
        [sys.executable, "-m", "plugins.train", str(config), "eval_strategy=no", "save_strategy=no",
         "--skip-decode-check"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, log_of(result)[-3000:]
    assert "is not a valid IntervalStrategy" not in log_of(result)
    assert (tmp_path / "saves" / "adapter_config.json").is_file()
