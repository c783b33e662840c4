"""evaluate_model.py and evaluation/: pure pieces on in-memory data, then the real CLI on the tiny model.

The end-to-end tests (slow) run one evaluation with --compare-base over sample clips plus a missing and a
corrupt clip, and read back what it wrote; resume and score-only reuse that run's output directory.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluation.cleaning import clean_answer, is_repetitive
from evaluation.generation import GenerationSettings, collate_left_padded, generate_batch
from evaluation.predictions import Prediction, PredictionWriter, read_existing, read_jsonl
from evaluation.samples import InvalidTestSetError, Sample, load_test_set
from evaluation.score_only import read_predictions_for_scoring

PROMPT = "<video>Describe this video in one sentence."
REPO_ROOT = Path(__file__).resolve().parents[1]


# ---------- helpers shared with the other evaluation tests ----------


def sharegpt_record(video: str, caption: str, record_id: str | None = None) -> dict:
    record = {
        "messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": caption}],
        "videos": [video],
    }
    if record_id is not None:
        record["id"] = record_id
    return record


def write_test_set(tmp_dir: Path, sample_dir: Path, count: int, with_bad_clips: bool = True) -> Path:
    """ShareGPT test set of the shortest sample clips (paths relative to the repo root), + a missing and a corrupt
    clip."""
    import csv

    with open(sample_dir / "webvid.csv", newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda row: (row["duration"], row["videoid"]))[:count]  # shortest
    records = [
        sharegpt_record(
            str((sample_dir / "videos" / r["page_dir"] / f"{r['videoid']}.mp4").relative_to(REPO_ROOT)),
            r["name"],
            r["videoid"],
        )
        for r in rows
    ]
    if with_bad_clips:
        corrupt = tmp_dir / "corrupt.mp4"
        corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
        records.append(sharegpt_record("data/sample/videos/no_such_dir/missing.mp4", "A missing clip", "missing"))
        records.append(sharegpt_record(str(corrupt), "A corrupt clip", "corrupt"))
    path = tmp_dir / "webvid_test.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def make_lora_adapter(model_dir: Path, out_dir: Path, model=None) -> Path:
    """A LoRA adapter saved by peft on q_proj/v_proj, with random B so it changes the answers."""
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2VLForConditionalGeneration

    model = model or Qwen2VLForConditionalGeneration.from_pretrained(model_dir)
    torch.manual_seed(0)
    peft_model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(out_dir)
    return out_dir


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "evaluate_model.py", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


# ---------- cleaning ----------


def test_clean_answer_strips_special_tokens_role_prefix_and_whitespace():
    assert clean_answer("assistant\n  A red ball<|im_end|><|endoftext|>") == "A red ball"
    assert clean_answer("Assistant: a  dog\n runs ") == "a dog runs"
    assert clean_answer("<|im_start|>assistant\nA cat\x00 sleeps\ufffd") == "A cat sleeps"
    assert clean_answer("<|im_end|>  ") == ""
    assert clean_answer("a user interface", special_tokens=["<|im_end|>"]) == "a user interface"


def test_is_repetitive_flags_loops_not_normal_captions():
    assert is_repetitive("rain rain rain")
    assert is_repetitive("a red ball a red ball a red ball on grass")
    assert is_repetitive("the the sky the the sky the the sky")
    assert not is_repetitive("A red circle moves left on a blue background")
    assert not is_repetitive("a dog and a cat and a bird")
    assert is_repetitive("4|upupupupupupupupupup")  # a loop with no spaces
    assert not is_repetitive("Mississippi river at sunset, 4k 1080p footage")
    assert not is_repetitive("")


# ---------- test set ----------


def test_load_test_set_resolves_paths_and_ids(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([sharegpt_record("a/1.mp4", "one", "v1"), sharegpt_record("/abs/2.mp4", "two")]))
    samples = load_test_set(path, tmp_path)
    assert [s.id for s in samples] == ["v1", "1"]  # no id: the record index
    assert samples[0].video_path == str(tmp_path / "a/1.mp4") and samples[1].video_path == "/abs/2.mp4"
    assert samples[0].reference == "one" and samples[0].prompt == PROMPT
    assert len(load_test_set(path, tmp_path, num_samples=1)) == 1


def test_load_test_set_clear_errors(tmp_path):
    with pytest.raises(InvalidTestSetError, match="does not exist.*make data"):
        load_test_set(tmp_path / "nope.json", tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(InvalidTestSetError, match="no samples"):
        load_test_set(empty, tmp_path)
    with pytest.raises(InvalidTestSetError, match="video directory .* does not exist"):
        load_test_set(empty, tmp_path / "videos")


# ---------- predictions file ----------


def _prediction(sample_id: str, error: str | None = None, video_path: str | None = None) -> Prediction:
    """The base model's answer "x" to sample ``sample_id`` (clip /clips/ID.mp4), or its ``error``."""
    sample = Sample(sample_id, f"{sample_id}.mp4", video_path or f"/clips/{sample_id}.mp4", PROMPT, "ref")
    return Prediction.of_sample(sample, "base", None if error else "x", error, None)


def test_prediction_records_read_back_as_written():
    answered = Prediction.of_sample(Sample("a", "a.mp4", "/c/a.mp4", PROMPT, "A dog."), "adapter",
                                    "<|im_start|>assistant\nA dog runs.<|im_end|>", None, "frames/a.jpg",
                                    ["<|im_start|>", "<|im_end|>"])  # fmt: skip
    assert (answered.prediction, answered.status, answered.empty, answered.repetitive) == (
        "A dog runs.",
        "ok",
        False,
        False,
    )
    assert Prediction.from_json(json.loads(json.dumps(answered.to_json())), "f:1") == answered
    errored = _prediction("b", error="missing clip")
    assert (errored.status, errored.prediction, errored.empty) == ("error", None, None)
    assert Prediction.from_json(errored.to_json(), "f:2") == errored
    assert Prediction.from_json({"id": 7, "status": "ok", "reference": "r", "prediction": ""}, "f:3").empty


def test_writer_drops_torn_line_and_resume_reads_each_record_once(tmp_path):
    path = tmp_path / "predictions.jsonl"
    with PredictionWriter(path) as writer:
        writer.write(_prediction("a"))
        writer.write(_prediction("b"))
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"id": "c", "model": "ba')  # killed mid-line
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]
    with PredictionWriter(path) as writer:
        writer.write(_prediction("c"))
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b", "c"]
    assert set(read_existing(tmp_path)) == {("base", "a"), ("base", "b"), ("base", "c")}


def test_reads_llamafactory_generated_predictions(tmp_path):
    path = tmp_path / "generated_predictions.jsonl"
    lines = [
        {"prompt": "p", "predict": "A dog runs<|im_end|>", "label": "A dog runs."},
        {"prompt": "p", "predict": "", "label": "A cat"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    records = read_predictions_for_scoring(path).records
    assert [(r["id"], r["prediction"], r["reference"]) for r in records] == [
        ("0", "A dog runs", "A dog runs."),
        ("1", "", "A cat"),
    ]


# ---------- inputs, frames, batching ----------


@pytest.fixture(scope="module")
def preprocessing(tiny_model_dir):
    from evaluation.inputs import load_preprocessing
    from evaluation.settings import ModelSettings

    return load_preprocessing(ModelSettings(base_model=str(tiny_model_dir)))


@pytest.fixture(scope="module")
def tiny_model(tiny_model_dir):
    from evaluation.model import load_base_model
    from evaluation.settings import ModelSettings

    return load_base_model(ModelSettings(base_model=str(tiny_model_dir)), torch.device("cpu"))


def _samples(sample_dir: Path, count: int) -> list[Sample]:
    paths = sorted((sample_dir / "videos").glob("*/*.mp4"))[:count]
    return [Sample(p.stem, str(p), str(p), PROMPT, "ref") for p in paths]


def test_frames_recovered_from_pixel_values_are_the_frames_processed(preprocessing):
    from evaluation.frames import frames_from_pixel_values

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(4, 56, 84, 3), dtype=np.uint8)  # multiples of 28: no resize
    video_processor = preprocessing.processor.video_processor
    processed = video_processor(videos=[list(frames)], return_tensors="pt")
    recovered = frames_from_pixel_values(
        processed["pixel_values_videos"], processed["video_grid_thw"][0], video_processor
    )
    assert recovered.shape == frames.shape
    assert np.abs(recovered.astype(int) - frames.astype(int)).max() <= 1


def test_build_inputs_tokens_equal_features_and_errors_are_named(preprocessing, sample_dir, tmp_path):
    from evaluation.inputs import SampleInputError, build_inputs

    sample = _samples(sample_dir, 1)[0]
    inputs = build_inputs(sample, preprocessing, cutoff_len=2048)
    n_tokens = inputs["input_ids"].count(preprocessing.video_token_id)
    assert n_tokens == int(inputs["video_grid_thw"].prod()) // 4 > 0
    assert inputs["video_grid_thw"][0, 0] == 4  # 8 frames, temporal patch 2
    with pytest.raises(SampleInputError, match="over cutoff_len 100"):
        build_inputs(sample, preprocessing, cutoff_len=100)
    missing = Sample("m", "x.mp4", str(tmp_path / "x.mp4"), PROMPT, "ref")
    with pytest.raises(SampleInputError, match="x.mp4: missing"):
        build_inputs(missing, preprocessing, cutoff_len=2048)


def test_collate_pads_left_and_marks_video_tokens():
    items = [
        {
            "error": None,
            "input_ids": [5, 6, 9, 9, 7],
            "pixel_values_videos": torch.ones(8, 3),
            "video_grid_thw": torch.tensor([[1, 2, 4]]),
        },
        {
            "error": None,
            "input_ids": [9, 7],
            "pixel_values_videos": torch.zeros(4, 3),
            "video_grid_thw": torch.tensor([[1, 2, 2]]),
        },
        {"error": "VideoReadError: bad", "sample": None},
    ]
    batch = collate_left_padded(items, pad_token_id=0, video_token_id=9)
    inputs = batch["model_inputs"]
    assert inputs["input_ids"].tolist() == [[5, 6, 9, 9, 7], [0, 0, 0, 9, 7]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [0, 0, 0, 1, 1]]
    assert inputs["mm_token_type_ids"].tolist() == [[0, 0, 2, 2, 0], [0, 0, 0, 2, 0]]
    assert inputs["pixel_values_videos"].shape == (12, 3) and len(batch["failed"]) == 1


@pytest.fixture(scope="module")
def built_items(preprocessing, tmp_path_factory):
    """Inputs of three short clips of different sizes (so prompts of different lengths), built once."""
    from evaluation.generation import SampleInputs
    from tests.clips import make_clip

    clip_dir = tmp_path_factory.mktemp("clips")
    sizes = [(224, 168), (168, 280), (336, 196)]
    paths = [make_clip(clip_dir / f"{w}x{h}.mp4", n_frames=24, fps=24, width=w, height=h) for w, h in sizes]
    samples = [Sample(p.stem, str(p), str(p), PROMPT, "ref") for p in paths]
    dataset = SampleInputs(samples, preprocessing, cutoff_len=2048, output_dir=None)
    return [dataset[i] for i in range(len(samples))]


@pytest.mark.parametrize("num_beams", [1, 3])
def test_batched_generation_equals_one_at_a_time(preprocessing, tiny_model, built_items, num_beams):
    """Left padding and beam expansion must not mix up samples: visual inputs stay with their own prompt."""
    assert len({len(item["input_ids"]) for item in built_items}) > 1
    settings = GenerationSettings(num_beams=num_beams, max_new_tokens=6)

    def generate(items):
        batch = collate_left_padded(items, preprocessing.tokenizer.pad_token_id, preprocessing.video_token_id)
        return generate_batch(tiny_model, batch["model_inputs"], settings, preprocessing)

    single = [generate([item])[0] for item in built_items]
    assert generate(built_items) == single


def test_batched_next_token_logits_match_each_sample_alone(preprocessing, tiny_model, built_items):
    """Stronger than equal strings from a random model: every row's next-token logits equal its own solo run."""

    def last_logits(items):
        batch = collate_left_padded(items, preprocessing.tokenizer.pad_token_id, preprocessing.video_token_id)
        with torch.no_grad():
            return tiny_model(**batch["model_inputs"]).logits[:, -1]

    single = torch.cat([last_logits([item]) for item in built_items])
    assert torch.allclose(last_logits(built_items), single, atol=1e-4)
    assert not torch.allclose(single[0], single[1], atol=1e-3), "clips should give different logits"


# ---------- adapters ----------


def test_adapter_errors_before_generation(tiny_model_dir, tiny_model, tmp_path):
    from evaluation.model import AdapterError, check_adapter_fits, inspect_adapter

    with pytest.raises(AdapterError, match="does not exist"):
        inspect_adapter(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(AdapterError, match="adapter_config.json is missing"):
        inspect_adapter(str(tmp_path / "empty"))
    (tmp_path / "empty" / "adapter_config.json").write_text("{}")
    with pytest.raises(AdapterError, match="no adapter weights"):
        inspect_adapter(str(tmp_path / "empty"))

    good = inspect_adapter(str(make_lora_adapter(tiny_model_dir, tmp_path / "good")))
    assert len(good.sha256) == 64
    check_adapter_fits(tiny_model, good)

    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    config = Qwen2VLConfig.from_pretrained(tiny_model_dir)
    config.text_config.hidden_size, config.text_config.intermediate_size = 64, 128
    config.vision_config.hidden_size = 64
    other = Qwen2VLForConditionalGeneration(config)
    wrong = inspect_adapter(str(make_lora_adapter(tiny_model_dir, tmp_path / "other", model=other)))
    with pytest.raises(AdapterError, match="another model"):
        check_adapter_fits(tiny_model, wrong)


# settings from a training config: tests/test_evaluate_settings.py


def test_resume_only_continues_the_same_run(tmp_path):
    from dataclasses import replace

    from evaluation.run_identity import RUN_FILE, RunIdentity, check_same_run

    run = RunIdentity(
        settings={"base_model": "m"},
        generation={"num_beams": 1},
        models=("adapter",),
        adapter_sha256="aaa",
        test_set={"sha256": "t", "samples": 1},
    )
    check_same_run(tmp_path, run, write=True)
    assert RunIdentity.read(tmp_path) == replace(run, models=["adapter"])  # read back as JSON holds it
    (tmp_path / "predictions.jsonl").write_text('{"id": "1", "model": "adapter", "prediction": "x"}\n')
    check_same_run(tmp_path, RunIdentity.read(tmp_path), write=True)  # the same run resumes

    retrained = replace(run, adapter_sha256="bbb")
    with pytest.raises(SystemExit, match="changed: adapter_sha256"):
        check_same_run(tmp_path, retrained, write=True)

    (tmp_path / RUN_FILE).unlink()
    with pytest.raises(SystemExit, match="no run.json"):
        check_same_run(tmp_path, run, write=True)


def test_test_set_is_identified_by_content_not_path(tmp_path):
    from evaluation.run_identity import fingerprint_test_set

    records = [sharegpt_record("a/1.mp4", "one", "v1"), sharegpt_record("a/2.mp4", "two", "v2")]
    (tmp_path / "t.json").write_text(json.dumps(records))
    (tmp_path / "moved.json").write_text(json.dumps(records, indent=2))  # same records, other file and layout
    (tmp_path / "a").mkdir()
    same = fingerprint_test_set(load_test_set(tmp_path / "t.json", tmp_path))
    assert fingerprint_test_set(load_test_set(tmp_path / "moved.json", tmp_path / "a")) == same  # any --video-dir
    records[1]["messages"][1]["content"] = "two, corrected"
    (tmp_path / "t.json").write_text(json.dumps(records))
    assert fingerprint_test_set(load_test_set(tmp_path / "t.json", tmp_path))["sha256"] != same["sha256"]
    assert fingerprint_test_set(load_test_set(tmp_path / "t.json", tmp_path, num_samples=1))["samples"] == 1


def test_prepare_resume_keeps_answers_and_drops_errors_for_a_retry(tmp_path):
    from evaluation.predictions import prepare_resume

    samples = [Sample(i, f"{i}.mp4", f"/clips/{i}.mp4", PROMPT, "ref") for i in ("a", "b", "c")]
    with PredictionWriter(tmp_path / "predictions.jsonl") as writer:
        writer.write(_prediction("a"))
        writer.write(_prediction("b", error="missing"))
        writer.write(_prediction("c", video_path="/elsewhere/c.mp4"))  # made with another --video-dir
    with PredictionWriter(tmp_path / "predictions.rank1.jsonl") as writer:  # a shard left by a killed torchrun
        writer.write(_prediction("b", error="missing"))
    resumed = prepare_resume(tmp_path, samples, ["base"])
    assert (resumed.kept, resumed.retried, resumed.redone) == (1, 1, 1)
    assert [r["id"] for r in read_jsonl(tmp_path / "predictions.jsonl")] == ["a"]
    assert not list(tmp_path.glob("predictions.rank*.jsonl"))
    assert set(read_existing(tmp_path)) == {("base", "a")}
