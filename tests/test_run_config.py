"""The one run-config reader (plugins.run_config), the record an adapter keeps of its inputs (plugins.run_inputs),
and the merge carrying that record along (plugins.export.copy_run_inputs): fast, on in-memory and tmp files."""

import json

import pytest

from plugins.export import copy_run_inputs
from plugins.run_config import RunConfigError, llamafactory_argv, load_run_config
from plugins.run_inputs import RUN_INPUTS_FILE, RunInputsError, input_settings, read_run_inputs, write_run_inputs
from tests.training_fixtures import REPO_ROOT

DEMO_CONFIG = REPO_ROOT / "configs" / "tiny_qwen2vl_demo.yaml"


def test_overrides_win_over_the_yaml_and_are_typed_as_llamafactory_reads_them():
    settings = load_run_config(DEMO_CONFIG, ["video_maxlen=4", "video_fps=2.5", "template=qwen2_vl"])
    assert settings["video_maxlen"] == 4 and settings["video_fps"] == 2.5 and settings["template"] == "qwen2_vl"
    assert settings["cutoff_len"] == 512  # untouched keys come from the YAML
    assert load_run_config(DEMO_CONFIG)["video_maxlen"] == 8


def test_overrides_alone_without_a_config():
    assert load_run_config(None, ["video_maxlen=4", "dataset=a_train,b_train"]) == {
        "video_maxlen": 4, "dataset": "a_train,b_train"}  # fmt: skip
    assert load_run_config(None) == {}


@pytest.mark.parametrize(("config", "overrides", "message"), [
    ("nope.yaml", [], "nope.yaml: no such config file"),
    ("config.json", [], "expected a .yaml config"),
    (None, ["video_maxlen"], "overrides must be key=value, got video_maxlen"),
    (None, ["--video_maxlen=4"], "overrides must be key=value"),
])  # fmt: skip
def test_unreadable_configs_and_overrides_are_named(tmp_path, config, overrides, message):
    with pytest.raises(RunConfigError, match=message):
        load_run_config(tmp_path / config if config else None, overrides)


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n- b\n", "expected a mapping of settings"),
    ("video_maxlen: [8\n", "while parsing"),
])  # fmt: skip
def test_a_yaml_that_is_not_a_mapping_of_settings_is_named(tmp_path, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(RunConfigError, match=f"bad.yaml: {message}"):
        load_run_config(config)
    with pytest.raises(RunConfigError, match="overrides: while parsing"):
        load_run_config(None, ["video_maxlen=[8"])


def llamafactory_parse(settings: dict):
    """LLaMA-Factory's training parser on a settings dict (as its get_train_args parses them)."""
    from llamafactory.hparams import (
        DataArguments,
        FinetuningArguments,
        GeneratingArguments,
        ModelArguments,
        TrainingArguments,
    )
    from transformers import HfArgumentParser

    classes = [ModelArguments, DataArguments, TrainingArguments, FinetuningArguments, GeneratingArguments]
    return HfArgumentParser(classes).parse_dict(settings)


def test_no_is_text_where_llamafactory_wants_text_and_a_boolean_where_it_wants_one(tmp_path):
    settings = load_run_config(DEMO_CONFIG, ["eval_strategy=no", "save_strategy=no", "overwrite_output_dir=yes"])
    assert settings["eval_strategy"] == "no" and settings["save_strategy"] == "no"
    assert settings["overwrite_output_dir"] is True  # a boolean field keeps YAML's reading
    training_args = llamafactory_parse(settings)[2]
    assert training_args.eval_strategy.value == "no" and training_args.save_strategy.value == "no"
    config = tmp_path / "c.yaml"
    config.write_text(DEMO_CONFIG.read_text().replace("save_strategy: epoch", "save_strategy: off"))
    assert load_run_config(config, ["eval_strategy=no"])["save_strategy"] == "off"  # the YAML's text, as written


def test_llamafactorys_own_reader_gets_the_same_text(tmp_path, monkeypatch):
    from llamafactory.hparams.parser import read_args

    config = tmp_path / "c.yaml"
    config.write_text(DEMO_CONFIG.read_text().replace("eval_strategy: steps", "eval_strategy: no"))
    argv = llamafactory_argv(config, ["save_strategy=no", "logging_steps=2"])
    assert argv[:3] == [str(config), "save_strategy=no", "logging_steps=2"]
    monkeypatch.setattr("sys.argv", ["llamafactory-cli", *argv])
    read = read_args()
    assert read == load_run_config(config, ["save_strategy=no", "logging_steps=2"])
    assert read["eval_strategy"] == "no" and read["save_strategy"] == "no" and read["logging_steps"] == 2


@pytest.mark.parametrize(("config", "overrides", "message"), [
    (DEMO_CONFIG, ["cutof_len=4"], r"unknown setting cutof_len \(a key=value\)"),
    (None, ["=4"], "override =4 has no key"),
])  # fmt: skip
def test_unknown_and_empty_keys_are_named(config, overrides, message):
    with pytest.raises(RunConfigError, match=message):
        load_run_config(config, overrides)


def test_an_unknown_key_in_the_yaml_names_the_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("video_maxln: 4\n")
    with pytest.raises(RunConfigError, match=f"unknown setting video_maxln \\(in {config}\\)"):
        load_run_config(config)


def test_input_settings_are_llamafactorys_parse_with_its_defaults(tmp_path, tiny_model_dir):
    settings = input_settings({"model_name_or_path": str(tiny_model_dir), "template": "qwen2_vl_exact",
                               "video_maxlen": 4, "dataset": "a_train,b_train", "dataset_dir": str(tmp_path),
                               "lora_rank": 8})  # fmt: skip
    assert settings["video_maxlen"] == 4 and settings["video_fps"] == 2.0  # LLaMA-Factory's default video_fps
    assert settings["cutoff_len"] == 2048 and settings["image_max_pixels"] == 768 * 768
    assert settings["dataset"] == ["a_train", "b_train"]
    assert settings["media_dir"] == str(tmp_path)  # LLaMA-Factory: dataset_dir when unset
    assert {"video_max_pixels", "video_min_pixels", "image_min_pixels", "template"} <= set(settings)
    assert "lora_rank" not in settings  # training-only keys are not inputs


def test_relative_folders_are_recorded_absolute(tmp_path, monkeypatch, tiny_model_dir):
    monkeypatch.chdir(tiny_model_dir.parent)
    settings = input_settings({"model_name_or_path": tiny_model_dir.name, "dataset_dir": ".", "media_dir": "media"})
    assert settings["model_name_or_path"] == str(tiny_model_dir)
    assert settings["dataset_dir"] == str(tiny_model_dir.parent)
    assert settings["media_dir"] == str(tiny_model_dir.parent / "media")
    assert input_settings({"model_name_or_path": "Org/Name"})["model_name_or_path"] == "Org/Name"  # a hub id stays


def test_settings_llamafactory_refuses_are_named():
    with pytest.raises(RunInputsError, match="video_max_pixels"):
        input_settings({"model_name_or_path": "m", "video_max_pixels": 10, "video_min_pixels": 100})


def test_the_record_reads_back_as_written(tmp_path):
    settings = {"model_name_or_path": "m", "video_maxlen": 4, "dataset": ["x_train"]}
    path = write_run_inputs(tmp_path / "adapter", settings, source=["c.yaml", "video_maxlen=4"])
    assert path == tmp_path / "adapter" / RUN_INPUTS_FILE and not list((tmp_path / "adapter").glob("*.tmp"))
    record = read_run_inputs(tmp_path / "adapter")
    assert record.settings == settings and record.source == ["c.yaml", "video_maxlen=4"] and record.path == path
    assert read_run_inputs(tmp_path) is None  # no record: an adapter trained before it existed


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", json.dumps({"version": 1})])
def test_a_damaged_record_is_named(tmp_path, content):
    (tmp_path / RUN_INPUTS_FILE).write_text(content)
    with pytest.raises(RunInputsError, match=RUN_INPUTS_FILE):
        read_run_inputs(tmp_path)


def test_export_copies_the_adapters_record_into_export_dir(tmp_path):
    write_run_inputs(tmp_path / "adapter", {"video_maxlen": 4}, source=["c.yaml"])
    (tmp_path / "merged").mkdir()
    copied = copy_run_inputs(
        {"adapter_name_or_path": str(tmp_path / "adapter"), "export_dir": str(tmp_path / "merged")}
    )
    assert copied == tmp_path / "merged" / RUN_INPUTS_FILE
    assert copied.read_bytes() == (tmp_path / "adapter" / RUN_INPUTS_FILE).read_bytes()
    # several adapters: the last one (trained on top of the others); none with a record: nothing copied
    write_run_inputs(tmp_path / "second", {"video_maxlen": 2}, source=["d.yaml"])
    copy_run_inputs({"adapter_name_or_path": f"{tmp_path / 'adapter'},{tmp_path / 'second'}",
                     "export_dir": str(tmp_path / "merged")})  # fmt: skip
    assert read_run_inputs(tmp_path / "merged").settings == {"video_maxlen": 2}
    assert copy_run_inputs({"adapter_name_or_path": str(tmp_path), "export_dir": str(tmp_path / "merged")}) is None
