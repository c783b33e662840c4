"""Check a Qwen2-VL checkpoint end to end through LLaMA-Factory: load, preprocess clips, count tokens, forward.

    python -m models.check_tiny_model --model models/tiny-qwen2vl --csv data/sample/webvid.csv
    python -m models.check_tiny_model --model /path/to/Qwen2-VL-2B-Instruct --csv my.csv --clips 2

For each of the first ``--clips`` clips of a WebVid CSV (videos under ``<csv dir>/videos`` unless
``--video-dir`` says otherwise) it builds the prompt with LLaMA-Factory's template and multimodal plugin,
checks that the number of <|video_pad|> tokens equals video_grid_thw.prod() / merge_size**2 (the check whose
failure is "Video features and video tokens do not match"), and runs a forward pass.
"""

import argparse
import csv
from pathlib import Path

VIDEO_MAXLEN = 8
VIDEO_FPS = 8.0
VIDEO_MAX_PIXELS = 224 * 224


def load(model_path: str, template_name: str):
    """Tokenizer, processor, template and model through LLaMA-Factory's own loaders (our template registered)."""
    import plugins
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import get_infer_args
    from llamafactory.model import load_model, load_tokenizer

    plugins.register()
    model_args, data_args, finetuning_args, _ = get_infer_args(
        {
            "model_name_or_path": model_path,
            "template": template_name,
            "video_maxlen": VIDEO_MAXLEN,
            "video_fps": VIDEO_FPS,
            "video_max_pixels": VIDEO_MAX_PIXELS,
            "infer_dtype": "float32",
        }
    )
    tokenizer_module = load_tokenizer(model_args)
    template = get_template_and_fix_tokenizer(tokenizer_module["tokenizer"], data_args)
    model = load_model(tokenizer_module["tokenizer"], model_args, finetuning_args, is_trainable=False)
    return tokenizer_module["tokenizer"], tokenizer_module["processor"], template, model


def check_clip(video_path: str, tokenizer, processor, template, model) -> dict:
    """Token count vs features for one clip, then a forward pass. Raises if they disagree."""
    import torch

    plugin = template.mm_plugin
    messages = [{"role": "user", "content": "<video>Describe this video."}, {"role": "assistant", "content": ""}]
    messages = plugin.process_messages(messages, [], [video_path], [], processor)
    prompt_ids, _ = template.encode_oneturn(tokenizer, messages)
    mm_inputs = plugin.get_mm_inputs([], [video_path], [], [0], [1], [0], [prompt_ids], processor)
    video_token_id = tokenizer.convert_tokens_to_ids(plugin.video_token)
    n_tokens = prompt_ids.count(video_token_id)
    n_features = int(mm_inputs["video_grid_thw"].prod()) // processor.video_processor.merge_size**2
    if n_tokens != n_features:
        raise RuntimeError(f"{video_path}: {n_tokens} <|video_pad|> tokens but {n_features} video features")
    input_ids = torch.tensor([prompt_ids])
    # transformers 5 needs the modality of every token to place M-RoPE positions (2 = video, as its processor marks)
    mm_token_type_ids = (input_ids == video_token_id).long() * 2
    with torch.no_grad():
        logits = model(input_ids=input_ids, mm_token_type_ids=mm_token_type_ids, **mm_inputs).logits
    return {"video": video_path, "grid": mm_inputs["video_grid_thw"][0].tolist(), "tokens": n_tokens,
            "logits": tuple(logits.shape)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="local Qwen2-VL directory or hub id")
    parser.add_argument("--csv", type=Path, required=True, help="WebVid CSV (videoid,name,page_idx,page_dir,...)")
    parser.add_argument("--video-dir", type=Path, help="clip root (default: <csv dir>/videos)")
    parser.add_argument("--clips", type=int, default=3, help="how many clips to check")
    parser.add_argument("--template", default="qwen2_vl_exact", help="LLaMA-Factory template name")
    args = parser.parse_args()

    video_dir = args.video_dir or args.csv.parent / "videos"
    with open(args.csv, newline="", encoding="utf-8") as f:
        rows = [row for _, row in zip(range(args.clips), csv.DictReader(f))]
    tokenizer, processor, template, model = load(args.model, args.template)
    for row in rows:
        result = check_clip(str(video_dir / row["page_dir"] / f"{row['videoid']}.mp4"), tokenizer, processor,
                            template, model)
        print(f"ok  {result['video']}: grid {result['grid']} -> {result['tokens']} video tokens = features; "
              f"forward logits {result['logits']}  | caption: {row['name']}")


if __name__ == "__main__":
    main()
