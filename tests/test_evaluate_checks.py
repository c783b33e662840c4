"""What evaluate_model.py refuses or reports instead of trusting: nonsense --num-samples, frame strips of ids that
sanitise alike, --score-only on a cut-off or malformed file (and keeping the model identity when re-scoring), an
adapter trained on another base model. No model is loaded here; score-only runs the real scorer (Java)."""

import contextlib
import io
import json
from pathlib import Path

import pytest

import evaluate_model
from data.eval_samples import InvalidTestSetError, load_test_set
from evaluation.generation import frame_strip_name
from tests.evaluation_fixtures import sharegpt_record

# ---------- --num-samples ----------


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_num_samples_zero_or_negative_is_refused_by_argparse(value, capsys):
    with pytest.raises(SystemExit) as error:
        evaluate_model.parse_args(["--num-samples", value])
    assert error.value.code == 2
    assert "--num-samples" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--batch-size", "0"),
        ("--max-new-tokens", "-5"),
        ("--num-beams", "0"),
        ("--num-workers", "-1"),
        ("--min-new-tokens", "-1"),
    ],
)
def test_other_counts_out_of_range_are_refused(flag, value, capsys):
    with pytest.raises(SystemExit):
        evaluate_model.parse_args([flag, value])
    assert f"argument {flag}: must be at least" in capsys.readouterr().err


def test_load_test_set_refuses_non_positive_num_samples(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([sharegpt_record(f"{i}.mp4", f"caption {i}", str(i)) for i in range(3)]))
    assert len(load_test_set(path, tmp_path, num_samples=3)) == 3
    with pytest.raises(InvalidTestSetError, match="num_samples must be at least 1, got -1"):
        load_test_set(path, tmp_path, num_samples=-1)  # was: silently the first 2 of 3


# ---------- frame strips ----------


def test_frame_strip_names_are_unique_per_raw_id():
    ids = ["clip 1", "clip_1", "clip/1", "clip:1", "CLIP_1"]
    names = [frame_strip_name(sample_id) for sample_id in ids]
    assert len(set(names)) == len(ids), names
    assert all(name.startswith("frames/") and name.endswith(".jpg") for name in names)
    assert frame_strip_name("clip 1") == frame_strip_name("clip 1")  # stable across runs
    long_name = frame_strip_name("x" * 300)
    assert len(Path(long_name).name) < 255  # a file system's name limit


# ---------- --score-only ----------


def _our_record(sample_id: str, prediction: str, reference: str, **extra) -> dict:
    return {
        "id": sample_id,
        "model": "adapter",
        "video": f"{sample_id}.mp4",
        "prompt": "<video>Describe.",
        "reference": reference,
        "prediction": prediction,
        "status": "ok",
        "error": None,
        "empty": False,
        "repetitive": False,
        **extra,
    }


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return path


GOOD = [
    _our_record("a", "a red circle moves left", "A red circle moves left."),
    _our_record("b", "a blue square moves up", "A blue square moves right."),
]


IDENTITY = {"base_model": "Qwen/Qwen2-VL-7B-Instruct", "adapter": {"path": "saves/x", "sha256": "ab" * 32}}
SETTINGS = {"template": "qwen2_vl_exact", "video_maxlen": 8}


@pytest.fixture(scope="module")
def rescored(tmp_path_factory):
    """(predictions.jsonl, summary, stdout, stderr) of one --score-only run (one METEOR JVM, for both tests below):
    GOOD and a last line cut off by a kill, re-scored in place in a run folder whose metrics.json names its model."""
    run_dir = tmp_path_factory.mktemp("score_only") / "results"
    lines = [json.dumps(r) + "\n" for r in GOOD] + ['{"id": "c", "model": "adapter", "predic']
    predictions = _write_lines(run_dir / "predictions.jsonl", lines)
    (run_dir / "metrics.json").write_text(json.dumps({"identity": IDENTITY, "settings": SETTINGS}))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        summary = evaluate_model.main(["--score-only", str(predictions)])
    return predictions, summary, out.getvalue(), err.getvalue()


@pytest.mark.slow  # a JVM scoring pass (~10 s): make test runs it, make test-fast does not
def test_score_only_counts_and_names_a_cut_off_last_line(rescored):
    predictions, summary, out, err = rescored
    assert f"{predictions}:3" in err and "cut off" in err
    assert summary["counts"]["samples"] == 2
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines()}  # the summary table, as a run prints
    # the value first, then its bootstrap interval
    assert table["cider"][0] == f"{100 * summary['metrics']['cider']:.2f}" and table["samples"] == ["2"]
    written = json.loads((predictions.parent / "metrics.json").read_text())
    assert written["score_only"]["skipped_lines"] == [3]


@pytest.mark.parametrize(
    "bad_line, reason",
    [
        (json.dumps({"id": "c", "model": "adapter", "prediction": "x", "status": "ok"}), "'reference'"),
        (json.dumps(["not", "a", "record"]), "not a JSON object"),
        (json.dumps(_our_record("c", None, "A caption.")), "'prediction'"),
        (json.dumps({**_our_record("c", "x", "y"), "status": "done"}), "'status'"),
    ],
)
def test_score_only_names_file_and_line_of_a_malformed_record(tmp_path, bad_line, reason):
    lines = [json.dumps(GOOD[0]) + "\n", bad_line + "\n", json.dumps(GOOD[1]) + "\n"]
    predictions = _write_lines(tmp_path / "predictions.jsonl", lines)
    with pytest.raises(SystemExit) as error:
        evaluate_model.main(["--score-only", str(predictions)])
    message = str(error.value.code)
    assert f"{predictions}:2" in message and reason in message, message


def test_score_only_names_line_of_a_malformed_llamafactory_record(tmp_path):
    lines = [
        json.dumps({"prompt": "p", "predict": "a dog", "label": "A dog."}) + "\n",
        json.dumps({"prompt": "p", "predict": 3, "label": "A cat."}) + "\n",
    ]
    predictions = _write_lines(tmp_path / "generated_predictions.jsonl", lines)
    with pytest.raises(SystemExit, match=r"generated_predictions.jsonl:2: .*'predict'"):
        evaluate_model.main(["--score-only", str(predictions)])


@pytest.mark.slow  # a JVM scoring pass (~10 s): make test runs it, make test-fast does not
def test_score_only_keeps_the_model_identity_of_the_run(rescored):
    predictions = rescored[0]
    rewritten = json.loads((predictions.parent / "metrics.json").read_text())  # re-scored in place: rewritten
    assert rewritten["identity"] == IDENTITY and rewritten["settings"] == SETTINGS
    assert rewritten["score_only"]["predictions"] == str(predictions)
    assert rewritten["counts"]["samples"] == 2


# ---------- the adapter's base model ----------

HUB_ID = "Qwen/Qwen2-VL-7B-Instruct"


@pytest.mark.parametrize(
    "recorded, given",
    [
        (HUB_ID, HUB_ID),
        (HUB_ID, "/root/.cache/models/Qwen2-VL-7B-Instruct"),
        ("/home/me/hf/hub/models--Qwen--Qwen2-VL-7B-Instruct/snapshots/0123abcd", HUB_ID),
        ("/data/models--Qwen--Qwen2-VL-7B-Instruct/snapshots/0123abcd/", "/mnt/Qwen2-VL-7B-Instruct/"),
        ("qwen/qwen2-vl-7b-instruct", HUB_ID),  # the hub ignores case
    ],
)
def test_same_base_model_under_another_name(recorded, given):
    from evaluation.base_model import same_base_model

    assert same_base_model(recorded, given)


@pytest.mark.parametrize(
    "recorded, given",
    [
        (HUB_ID, "Qwen/Qwen2-VL-2B-Instruct"),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "/root/.cache/models/Qwen2-VL-7B-Instruct"),
        ("/home/me/hf/hub/models--Qwen--Qwen2-VL-2B-Instruct/snapshots/0123abcd", HUB_ID),
        (HUB_ID, "someone/Qwen2-VL-7B-Instruct"),  # another owner's upload may hold other weights
    ],
)
def test_different_base_models(recorded, given):
    from evaluation.base_model import same_base_model

    assert not same_base_model(recorded, given)


def test_relative_and_absolute_paths_of_one_local_model_match(tmp_path, monkeypatch):
    from evaluation.base_model import same_base_model

    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path)
    assert same_base_model("models/tiny", str(tmp_path / "models" / "tiny"))
    assert same_base_model("./models/tiny/", "models/tiny")
    assert not same_base_model("models/tiny", str(tmp_path / "other"))


def _adapter_dir(path: Path, base_model: str | None) -> Path:
    """An adapter directory as far as the checks before loading read it (config and a weights file)."""
    path.mkdir(parents=True)
    config = {"peft_type": "LORA", "r": 8, "target_modules": ["q_proj", "v_proj"]}
    if base_model is not None:
        config["base_model_name_or_path"] = base_model
    (path / "adapter_config.json").write_text(json.dumps(config))
    (path / "adapter_model.safetensors").write_bytes(b"not read before the base model check")
    return path


def test_adapter_of_another_base_model_is_refused_before_loading(tmp_path):
    test_data = tmp_path / "test.json"
    test_data.write_text(json.dumps([sharegpt_record("clip.mp4", "A red circle moves left.", "a")]))
    (tmp_path / "clip.mp4").write_bytes(b"only its existence is checked before loading")
    adapter = _adapter_dir(tmp_path / "adapter", "Qwen/Qwen2-VL-2B-Instruct")
    args = [
        "--base-model",
        HUB_ID,
        "--adapter-path",
        str(adapter),
        "--test-data",
        str(test_data),
        "--video-dir",
        str(tmp_path),
        "--output-dir",
        str(tmp_path / "out"),
        "--allow-guessed-settings",  # a bare adapter folder, no run_inputs.json
    ]
    with pytest.raises(SystemExit) as error:
        evaluate_model.main(args)
    message = str(error.value.code)
    assert "Qwen/Qwen2-VL-2B-Instruct" in message and HUB_ID in message and "adapter_config.json" in message
    assert "--allow-base-mismatch" in message
    assert not (tmp_path / "out").exists()


def test_base_model_check_can_be_overridden_and_says_so(tmp_path):
    from evaluation.adapter_files import inspect_adapter
    from evaluation.base_model import check_adapter_base

    adapter = inspect_adapter(str(_adapter_dir(tmp_path / "adapter", "Qwen/Qwen2-VL-2B-Instruct")))
    warning = check_adapter_base(adapter, HUB_ID, allow_mismatch=True)
    assert warning and "Qwen/Qwen2-VL-2B-Instruct" in warning and "--allow-base-mismatch" in warning
    assert check_adapter_base(adapter, "Qwen/Qwen2-VL-2B-Instruct", allow_mismatch=False) is None
    unrecorded = inspect_adapter(str(_adapter_dir(tmp_path / "unrecorded", None)))
    assert "not checked" in check_adapter_base(unrecorded, HUB_ID, allow_mismatch=False)


# ---------- clips that are not where the test set says ----------


def test_wrong_video_dir_fails_before_loading_and_names_the_right_one(tiny_model_dir, sample_dir, tmp_path):
    from tests.evaluation_fixtures import REPO_ROOT, write_test_set

    test_data = write_test_set(tmp_path, sample_dir, 2, with_bad_clips=False)  # paths relative to the repo root
    wrong = tmp_path / "videos"
    wrong.mkdir()
    args = [
        "--base-model",
        str(tiny_model_dir),
        "--test-data",
        str(test_data),
        "--video-dir",
        str(wrong),
        "--output-dir",
        str(tmp_path / "out"),
        "--max-new-tokens",
        "2",
        "--num-workers",
        "0",
    ]
    with pytest.raises(SystemExit) as error:
        evaluate_model.main(args)
    message = str(error.value.code)
    assert f"0 of 2 clips found under {wrong}" in message, message
    assert f"relative to {REPO_ROOT}" in message and f"--video-dir {REPO_ROOT}" in message, message
    assert not (tmp_path / "out" / "predictions.jsonl").exists()


# ---------- exit status after generation ----------


def _outcome(sample_id: str, status: str, model: str = "adapter") -> dict:
    error = None if status == "ok" else f"VideoReadError: {sample_id}.mp4: moov atom not found"
    return {"id": sample_id, "model": model, "status": status, "error": error}


def test_errored_samples_decide_the_exit_status():
    from evaluation.outcome import exit_message

    clean = [_outcome("a", "ok"), _outcome("b", "ok")]
    assert exit_message(clean, allow_errors=False) == (None, False)

    partial = [_outcome("a", "ok"), _outcome("b", "error")]
    message, fail = exit_message(partial, allow_errors=False)
    assert fail and "1 of 2 samples errored" in message and "1 × VideoReadError" in message
    assert "b: VideoReadError: b.mp4" in message and "--allow-errors" in message
    message, fail = exit_message(partial, allow_errors=True)
    assert not fail and "1 of 2 samples errored" in message  # still said

    everything = [_outcome(i, "error", model) for i in "abc" for model in ("base", "adapter")]
    message, fail = exit_message(everything, allow_errors=True)
    assert fail and "every sample errored" in message and "3 of 3 samples" in message


def test_a_foreign_line_in_the_output_folder_is_named_not_a_traceback(tmp_path):
    from evaluation.predictions import PredictionsFileError, read_existing

    (tmp_path / "predictions.jsonl").write_text('{"id": "a", "status": "ok"}\n[1, 2]\n')
    with pytest.raises(PredictionsFileError, match=r"predictions.jsonl:2: not a prediction record"):
        read_existing(tmp_path)
    (tmp_path / "predictions.jsonl").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(PredictionsFileError, match="not UTF-8"):
        read_existing(tmp_path)


def test_no_model_is_a_message_not_a_traceback(tmp_path):
    with pytest.raises(SystemExit, match="no model to evaluate"):
        evaluate_model.main(["--test-data", str(tmp_path / "t.json")])
    with pytest.raises(SystemExit, match=r"training config .*nope.yaml does not exist"):
        evaluate_model.main(["--config", str(tmp_path / "nope.yaml")])


# ---------- malformed test sets ----------

GOOD_RECORD = sharegpt_record("a.mp4", "A caption.", "a")


@pytest.mark.parametrize(
    "bad",
    [
        "not a record",
        {**GOOD_RECORD, "videos": [None]},
        {**GOOD_RECORD, "videos": "a.mp4"},
        {**GOOD_RECORD, "messages": [{"role": "user"}, {"role": "assistant", "content": "A caption."}]},
        {**GOOD_RECORD, "messages": ["<video>Describe.", "A caption."]},
        {
            **GOOD_RECORD,
            "messages": [{"role": "user", "content": "<video>Describe."}, {"role": "assistant", "content": 3}],
        },
    ],
)
def test_malformed_test_set_record_is_named(tmp_path, bad):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([GOOD_RECORD, bad]))
    with pytest.raises(InvalidTestSetError, match=r"t.json: record 1: "):
        load_test_set(path, tmp_path)


def test_test_set_that_is_not_text_is_named(tmp_path):
    path = tmp_path / "t.json"
    path.write_bytes(b"\xff\xfe[\x00]")
    with pytest.raises(InvalidTestSetError, match="t.json is not UTF-8"):
        load_test_set(path, tmp_path)
