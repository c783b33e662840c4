"""A malformed ``#t=`` span is one sample's error on every path, never the end of the run.

``#t=3,1`` (reversed), ``#t=nan,inf``, ``#t=,``, ``#t=2,2`` (empty), ``#t=-1,2`` (negative) and ``#t=1e3,2e3``
(exponent) are refused by the one parser (video/clip_span.py) with BadSpanError, a VideoReadError of reason
``bad_span``; the preflight (frame store on or off), ``make frames`` and evaluation (--allow-errors) each report it
for that sample, naming it, and go on with the others.
"""

import json

import pytest

from tests.clips import make_clip
from tests.preflight_fixtures import config, record, write_datasets
from video import VideoReadError
from video.clip_span import BadSpanError, clip_file, split_clip_reference

BAD_FRAGMENTS = ("#t=3,1", "#t=nan,inf", "#t=,", "#t=2,2", "#t=-1,2", "#t=1e3,2e3")


@pytest.mark.parametrize("fragment", BAD_FRAGMENTS)
def test_the_parser_refuses_each_with_its_own_error_class(fragment):
    reference = f"clips/long.mp4{fragment}"
    with pytest.raises(BadSpanError) as caught:
        split_clip_reference(reference)
    assert isinstance(caught.value, VideoReadError) and caught.value.reason == "bad_span"
    assert str(caught.value).startswith(f"{reference}: cannot read video (bad_span)")
    assert clip_file(reference) == "clips/long.mp4"  # existence checks look at the video file either way


@pytest.fixture(scope="module")
def span_dir(tmp_path_factory):
    """clips/long.mp4 (4 s) and clips_spans: one good span, then one sample per bad fragment."""
    root = tmp_path_factory.mktemp("spans")
    make_clip(root / "clips" / "long.mp4", n_frames=48, fps=12, width=64, height=48)
    # absolute: LLaMA-Factory joins media_dir only to a path that exists as a file, which a span reference is not
    long = root / "clips" / "long.mp4"
    samples = [record("good", f"{long}#t=1,3")]
    samples += [record(f"bad{i}", f"{long}{fragment}") for i, fragment in enumerate(BAD_FRAGMENTS)]
    write_datasets(root, {"clips_spans": samples})
    return root


@pytest.mark.parametrize("store", ["off", "on"])
def test_the_preflight_names_every_bad_span_by_its_dataset_index(tiny_model_dir, span_dir, tmp_path, monkeypatch,
                                                                 store):  # fmt: skip
    from plugins.preflight import run
    from plugins.preflight_report import PreflightError

    monkeypatch.setenv("FRAME_STORE_DIR", "off" if store == "off" else str(tmp_path / "frames"))
    with pytest.raises(PreflightError) as caught:
        run(config(tiny_model_dir, span_dir, dataset="clips_spans"), decode_workers=1, workers=1)
    message = str(caught.value)
    for i, fragment in enumerate(BAD_FRAGMENTS):
        assert f"clips_spans[{i + 1}] id=bad{i}" in message, message
        assert f"long.mp4{fragment}" in message
    assert "id=good" not in message


@pytest.mark.slow  # the `make frames` entry point: LLaMA-Factory loads the dataset
def test_make_frames_stores_the_good_spans_and_lists_the_bad_ones(span_dir, tmp_path, capsys):
    from plugins.frames import main

    args = config("unused", span_dir, dataset="clips_spans")
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps({**args, "model_name_or_path": str(tmp_path)}))
    with pytest.raises(SystemExit) as caught:
        main(["build", str(path), f"media_dir={span_dir}", "--workers", "1"])
    assert caught.value.code == 1
    printed = capsys.readouterr().out
    for i, fragment in enumerate(BAD_FRAGMENTS):
        assert f"clips_spans[{i + 1}]: {span_dir}/clips/long.mp4{fragment}: cannot read video (bad_span)" in printed
    assert "decoded 1" in printed or "1 decoded" in printed, printed


@pytest.mark.slow  # generation on the tiny model, ~90 s on a busy machine
def test_evaluation_records_each_bad_span_as_that_samples_error(tiny_model_dir, span_dir, tmp_path):
    import evaluate_model

    test_data = span_dir / "clips_spans.json"
    out = tmp_path / "out"
    args = ["--base-model", str(tiny_model_dir), "--test-data", str(test_data), "--video-dir", str(span_dir),
            "--output-dir", str(out), "--max-new-tokens", "2", "--num-workers", "0", "--allow-errors"]  # fmt: skip
    evaluate_model.main(args)
    records = {r["id"]: r for r in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    assert records["good"]["status"] == "ok"
    for i, fragment in enumerate(BAD_FRAGMENTS):
        assert records[f"bad{i}"]["status"] != "ok"
        assert f"long.mp4{fragment}: cannot read video (bad_span)" in records[f"bad{i}"]["error"]
