"""Check a Qwen-VL checkpoint end to end through LLaMA-Factory: load, preprocess clips, count tokens, forward.

    python -m models.check_tiny_model --model models/tiny-qwen2vl --csv data/sample/webvid.csv
    python -m models.check_tiny_model --model models/tiny-qwen2_5vl --csv data/sample/webvid.csv
    python -m models.check_tiny_model --model models/tiny-qwen3vl --csv data/sample/webvid.csv \
        --template qwen3_vl_nothink_exact
    python -m models.check_tiny_model --model /path/to/Qwen2-VL-2B-Instruct --csv my.csv --clips 2

For each of the first ``--clips`` clips of a WebVid CSV (videos under ``<csv dir>/videos`` unless
``--video-dir`` says otherwise) it builds the inputs exactly as evaluation does (evaluation/inputs.py:
LLaMA-Factory's template and our multimodal plugin),
checks that the number of <|video_pad|> tokens equals video_grid_thw.prod() / merge_size**2 (the check whose
failure is "Video features and video tokens do not match"), and runs a forward pass.
"""

import argparse
import csv
import itertools
from pathlib import Path

PROMPT = "<video>Describe this video in one sentence."


def load(model_path: str, template_name: str):
    """(preprocessing, model): the base model's tokenizer/processor/template and the model, via LLaMA-Factory's
    loaders, with the default video settings (8 frames, 224x224 budget) -- exactly what evaluation uses."""
    import torch

    from evaluation.inputs import load_preprocessing
    from evaluation.model import load_base_model
    from evaluation.settings import ModelSettings

    settings = ModelSettings(base_model=model_path, template=template_name, infer_dtype="float32")
    return load_preprocessing(settings), load_base_model(settings, torch.device("cpu"))


def check_clip(video_path: str, preprocessing, model) -> dict:
    """Tokens vs features for one clip (build_inputs raises if they differ), then a forward pass."""
    import torch

    from data.eval_samples import Sample
    from evaluation.inputs import build_inputs, mm_token_type_ids

    inputs = build_inputs(Sample(video_path, video_path, video_path, PROMPT, ""), preprocessing, cutoff_len=1 << 30)
    input_ids = torch.tensor([inputs.pop("input_ids")])
    with torch.no_grad():  # the video tensors as evaluation passes them (Qwen2.5-VL: with second_per_grid_ts)
        logits = model(
            input_ids=input_ids, mm_token_type_ids=mm_token_type_ids(input_ids, preprocessing.video_token_id), **inputs
        ).logits
    return {
        "video": video_path,
        "grid": inputs["video_grid_thw"][0].tolist(),
        "tokens": int((input_ids == preprocessing.video_token_id).sum()),
        "logits": tuple(logits.shape),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="local Qwen-VL directory or hub id")
    parser.add_argument("--csv", type=Path, required=True, help="WebVid CSV (videoid,name,page_idx,page_dir,...)")
    parser.add_argument("--video-dir", type=Path, help="clip root (default: <csv dir>/videos)")
    parser.add_argument("--clips", type=int, default=3, help="how many clips to check")
    parser.add_argument(
        "--template", default="qwen2_vl_exact", help="LLaMA-Factory template (Qwen3-VL: qwen3_vl_nothink_exact)"
    )
    args = parser.parse_args()

    video_dir = args.video_dir or args.csv.parent / "videos"
    with open(args.csv, newline="", encoding="utf-8") as f:
        rows = list(itertools.islice(csv.DictReader(f), args.clips))
    preprocessing, model = load(args.model, args.template)
    for row in rows:
        result = check_clip(str(video_dir / row["page_dir"] / f"{row['videoid']}.mp4"), preprocessing, model)
        print(
            f"ok  {result['video']}: grid {result['grid']} -> {result['tokens']} video tokens = features; "
            f"forward logits {result['logits']}  | caption: {row['name']}"
        )


if __name__ == "__main__":
    main()
