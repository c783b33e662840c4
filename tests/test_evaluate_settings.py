"""What evaluation reads its inputs with (evaluation.settings) and what it scores by default (data.held_out):
the config, the adapter's run_inputs.json, explicit values and the held-out split, fast and without a model."""

import json
import subprocess
from pathlib import Path

import pytest

import evaluate_model
from data.eval_samples import InvalidTestSetError
from data.held_out import held_out_test_set
from evaluation.settings import RunMismatchError, SettingsError, UnrecordedAdapterError, resolve_run
from plugins.run_inputs import write_run_inputs
from tests.evaluation_fixtures import sharegpt_record
from tests.training_fixtures import REPO_ROOT, write_dataset


def _training_config(tmp_path: Path, model: Path, **values) -> Path:
    config = tmp_path / "train.yaml"
    settings = {
        "model_name_or_path": str(model),
        "template": "qwen2_vl_exact",
        "video_maxlen": 6,
        "finetuning_type": "lora",
        "output_dir": "saves/tiny",
        "stage": "sft",
        "do_train": True,
        **values,
    }
    config.write_text(json.dumps(settings))
    return config


def _adapter(tmp_path: Path, model: Path, **settings) -> Path:
    """An adapter folder holding only the record training writes (enough: nothing here loads the weights)."""
    recorded = {
        "model_name_or_path": str(model),
        "template": "qwen2_vl_exact",
        "video_maxlen": 4,
        "video_fps": 8.0,
        "video_max_pixels": 12544,
        "video_min_pixels": 256,
        "cutoff_len": 1024,
        "dataset": ["x_train"],
        "dataset_dir": str(tmp_path / "data"),
        "media_dir": str(tmp_path / "media"),
        **settings,
    }
    write_run_inputs(tmp_path / "adapter", recorded, source=["train.yaml", "video_maxlen=4"])
    return tmp_path / "adapter"


def test_settings_from_training_config_use_llamafactory_defaults(tmp_path, tiny_model_dir):
    config = _training_config(tmp_path, tiny_model_dir)
    settings = resolve_run(config).settings
    assert settings.base_model == str(tiny_model_dir) and settings.adapter_path == "saves/tiny"
    assert settings.video_maxlen == 6 and settings.video_fps == 2.0  # LF's default: what training used
    assert settings.cutoff_len == 2048 and settings.template == "qwen2_vl_exact"
    assert resolve_run(config, adapter_path="other").settings.adapter_path == "other"
    assert resolve_run(config, ["output_dir=saves/b"]).settings.adapter_path == "saves/b"


def test_overrides_with_or_without_a_config(tmp_path, tiny_model_dir):
    config = _training_config(tmp_path, tiny_model_dir)
    assert resolve_run(config, ["video_maxlen=4", "cutoff_len=4096"]).settings.video_maxlen == 4
    plain = resolve_run(None, ["video_maxlen=4", "video_fps=2"], base_model=str(tiny_model_dir)).settings
    assert (plain.video_maxlen, plain.video_fps, plain.video_max_pixels) == (4, 2.0, 224 * 224)  # project defaults
    assert isinstance(plain.video_fps, float)


def test_a_plain_adapter_path_uses_what_the_adapter_was_trained_with(tmp_path, tiny_model_dir):
    run = resolve_run(None, adapter_path=str(_adapter(tmp_path, tiny_model_dir)))
    assert run.settings.base_model == str(tiny_model_dir)  # no --base-model needed
    assert (run.settings.video_maxlen, run.settings.video_max_pixels, run.settings.cutoff_len) == (4, 12544, 1024)
    assert "run_inputs.json (trained with: train.yaml video_maxlen=4)" in run.notes[0]  # says what it used
    assert "video_maxlen 4" in run.notes[0]
    assert run.data == {"dataset": ["x_train"], "dataset_dir": str(tmp_path / "data"),
                        "media_dir": str(tmp_path / "media")}  # fmt: skip


def test_the_adapters_record_wins_over_its_config_and_says_so(tmp_path, tiny_model_dir):
    adapter = _adapter(tmp_path, tiny_model_dir)
    run = resolve_run(_training_config(tmp_path, tiny_model_dir, output_dir=str(adapter)))
    assert run.settings.video_maxlen == 4 and run.settings.adapter_path == str(adapter)
    assert any("trained with video_maxlen=4" in note and "config's video_maxlen=6" in note for note in run.notes)


@pytest.mark.parametrize(("override", "message"), [
    (["video_maxlen=8"], r"video_maxlen=8 \(trained with 4\).*--allow-setting-mismatch"),
    (["template=qwen2_vl"], r"template=qwen2_vl \(trained with qwen2_vl_exact\)"),
    (["video_max_pixels=50176", "cutoff_len=2048"], r"video_max_pixels=50176 \(trained with 12544\); cutoff_len"),
])  # fmt: skip
def test_a_value_contradicting_the_record_is_refused(tmp_path, tiny_model_dir, override, message):
    adapter = str(_adapter(tmp_path, tiny_model_dir))
    with pytest.raises(RunMismatchError, match=message):
        resolve_run(None, override, adapter_path=adapter)
    forced = resolve_run(None, override, adapter_path=adapter, allow_setting_mismatch=True)
    assert any("forced" in note for note in forced.notes)
    assert resolve_run(None, ["video_maxlen=4", "video_fps=8"], adapter_path=adapter).settings.video_maxlen == 4


def test_another_base_model_is_refused_unless_allowed(tmp_path, tiny_model_dir):
    adapter = str(_adapter(tmp_path, tiny_model_dir))
    with pytest.raises(RunMismatchError, match=r"base model Org/Other \(trained with .*--allow-base-mismatch"):
        resolve_run(None, base_model="Org/Other", adapter_path=adapter)
    for flag in ("allow_base_mismatch", "allow_setting_mismatch"):
        assert resolve_run(None, base_model="Org/Other", adapter_path=adapter, **{flag: True}).settings.base_model == (
            "Org/Other"
        )
    with pytest.raises(RunMismatchError, match="--allow-setting-mismatch"):  # the base-model flag covers only it
        resolve_run(None, ["video_maxlen=2"], adapter_path=adapter, allow_base_mismatch=True)
    same = resolve_run(None, base_model=f"{tiny_model_dir}/../{tiny_model_dir.name}/", adapter_path=adapter)
    assert Path(same.settings.base_model).resolve() == tiny_model_dir.resolve()  # another spelling, same folder


def test_where_the_data_lives_may_change(tmp_path, tiny_model_dir):
    adapter = str(_adapter(tmp_path, tiny_model_dir))
    run = resolve_run(None, [f"dataset_dir={tmp_path}", "dataset=y_train"], adapter_path=adapter)
    assert run.data["dataset"] == ["y_train"] and run.data["dataset_dir"] == str(tmp_path)


def test_a_merged_model_folder_brings_its_record(tmp_path, tiny_model_dir):
    merged = _adapter(tmp_path, tiny_model_dir)  # export copies the adapter's record into the merged model
    run = resolve_run(None, base_model=str(merged))
    assert run.settings.base_model == str(merged) and run.settings.adapter_path is None
    assert run.settings.video_maxlen == 4


def test_an_adapter_without_a_record_is_refused_unless_its_config_or_a_flag_says_how(tmp_path, tiny_model_dir):
    with pytest.raises(UnrecordedAdapterError, match="has no run_inputs.json.*--config.*--allow-guessed-settings"):
        resolve_run(None, base_model=str(tiny_model_dir), adapter_path=str(tmp_path))

    config = _training_config(tmp_path, tiny_model_dir)
    from_config = resolve_run(config, adapter_path=str(tmp_path))
    assert from_config.settings.video_maxlen == 6 and any("has no run_inputs.json" in n for n in from_config.notes)

    guessed = resolve_run(None, ["video_maxlen=4"], base_model=str(tiny_model_dir), adapter_path=str(tmp_path),
                          allow_guessed_settings=True)  # fmt: skip
    assert guessed.settings.video_maxlen == 4
    (warning,) = [note for note in guessed.notes if note.startswith("WARNING")]
    for setting in ("template qwen2_vl_exact", "video_fps 8.0", "video_max_pixels 50176", "cutoff_len 2048"):
        assert setting in warning
    assert "video_maxlen" not in warning and "infer_dtype" not in warning  # given, or not a training input


@pytest.mark.parametrize(("overrides", "message"), [
    (["video_maxln=4"], "unknown setting video_maxln"),
    (["video_maxlen=four"], "video_maxlen='four' is not valid: expected a whole number"),
    (["video_maxlen=4.5"], "expected a whole number"),
])  # fmt: skip
def test_bad_overrides_are_named(tiny_model_dir, overrides, message):
    with pytest.raises(SettingsError, match=message):
        resolve_run(None, overrides, base_model=str(tiny_model_dir))


def test_training_only_keys_are_accepted_and_unused(tiny_model_dir):
    run = resolve_run(None, ["num_train_epochs=1", "learning_rate=1e-4"], base_model=str(tiny_model_dir))
    assert run.settings.video_maxlen == 8  # `make eval ARGS=...` can take the ARGS given to `make train`


# ---------- the default test set ----------


def _register(dataset_dir: Path, *names: str) -> None:
    dataset_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_dataset(dataset_dir, [Path("clip.mp4")], name=name)
    info = {name: {"file_name": f"{name}.json", "formatting": "sharegpt"} for name in names}
    (dataset_dir / "dataset_info.json").write_text(json.dumps(info))


def test_the_held_out_split_of_the_trained_dataset(tmp_path):
    _register(tmp_path, "real_train", "real_test", "webvid_test")
    assert held_out_test_set(["real_train"], tmp_path) == tmp_path / "real_test.json"
    assert held_out_test_set("real_train", str(tmp_path)) == tmp_path / "real_test.json"


@pytest.mark.parametrize(("datasets", "message"), [
    (["a_train"], "a_test is not registered"),
    (["notes"], "no X_train dataset"),
    (["real_train", "other_train"], "several datasets with a held-out split"),
    (None, "no training run to take the held-out split from"),
])  # fmt: skip
def test_no_held_out_split_says_pass_test_data(tmp_path, datasets, message):
    _register(tmp_path, "real_train", "real_test", "other_train", "other_test")
    with pytest.raises(InvalidTestSetError, match=f"{message}.*--test-data"):
        held_out_test_set(datasets, tmp_path)


def test_a_registered_split_whose_file_is_gone_is_named(tmp_path):
    _register(tmp_path, "real_train", "real_test")
    (tmp_path / "real_test.json").unlink()
    with pytest.raises(InvalidTestSetError, match=r"real_test is registered as .*real_test.json, which does not"):
        held_out_test_set(["real_train"], tmp_path)
    with pytest.raises(InvalidTestSetError, match="no .*dataset_info.json"):
        held_out_test_set(["real_train"], tmp_path / "elsewhere")


def test_evaluation_scores_the_held_out_split_of_what_the_adapter_trained_on(tmp_path, tiny_model_dir, capsys):
    """No --test-data: the adapter trained on x_train is scored on x_test of its dataset_dir, clips under its
    media_dir; the synthetic data/webvid test set is never picked. Stops (no clip there) before loading a model."""
    adapter = _adapter(tmp_path, tiny_model_dir)
    _register(tmp_path / "data", "x_train")
    (tmp_path / "data" / "x_test.json").write_text(json.dumps([sharegpt_record("clips/a.mp4", "A clip", "a")]))
    info = json.loads((tmp_path / "data" / "dataset_info.json").read_text())
    (tmp_path / "data" / "dataset_info.json").write_text(json.dumps({**info, "x_test": {"file_name": "x_test.json"}}))
    (tmp_path / "media").mkdir()
    with pytest.raises(SystemExit, match=f"0 of 1 clips found under {tmp_path / 'media'}"):
        evaluate_model.main(["--adapter-path", str(adapter), "--output-dir", str(tmp_path / "out")])
    assert f"test set: {tmp_path / 'data' / 'x_test.json'} (held-out split of x_train)" in capsys.readouterr().err


def test_overrides_mix_with_options_on_the_command_line():
    args = evaluate_model.parse_args(["--base-model", "B", "video_maxlen=4", "--num-samples", "2", "cutoff_len=64"])
    assert args.overrides == ["video_maxlen=4", "cutoff_len=64"] and args.num_samples == 2
    assert args.test_data is None and args.video_dir is None  # decided from the run (data.held_out)
    with pytest.raises(SystemExit):
        evaluate_model.parse_args(["--base-model", "B", "video_maxlen"])


def test_make_eval_forwards_args_like_make_train():
    def dry_run(*variables: str) -> str:
        result = subprocess.run(
            ["make", "--no-print-directory", "-n", "eval", *variables],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip().splitlines()[-1]

    assert dry_run("ARGS=video_maxlen=4").endswith(
        "evaluate_model.py --config configs/tiny_qwen2vl_demo.yaml --compare-base video_maxlen=4"
    )
    assert dry_run("EVAL_ARGS=--adapter-path a", "ARGS=video_maxlen=4").endswith(
        "evaluate_model.py --config configs/tiny_qwen2vl_demo.yaml --compare-base --adapter-path a video_maxlen=4"
    )  # EVAL_ARGS add to the defaults, never replace them
