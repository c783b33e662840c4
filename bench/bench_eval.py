"""Evaluation throughput: the seed-style loop vs ours, measured in one run on the same clips and model.

    python -m bench.bench_eval                                  # tiny model, 24 sample clips, CPU
    python -m bench.bench_eval --samples 48 --batch-size 16 --num-workers 2

Seed-style: one sample at a time, its frames decoded in the generating process, then generate.
Ours: batches of --batch-size with left padding, DataLoader workers decoding the next clips while the model
generates (what evaluate_model.py runs). Both use the same inputs and evaluate_model.py's default decoding
(greedy, its batch size and max_new_tokens); scoring is not timed.
Prints samples/s for both and the ratio.
"""

import argparse
import time
from pathlib import Path

import torch

from data.eval_samples import Sample
from evaluation.generation import GenerationSettings, SampleInputs, collate_left_padded, generate_batch, make_loader
from evaluation.inputs import build_inputs, load_preprocessing
from evaluation.model import load_base_model
from evaluation.settings import ModelSettings

PROMPT = "<video>Describe this video in one sentence."


def seed_style(samples, pre, model, settings) -> list[str]:
    answers = []
    for sample in samples:
        item = {"error": None, **build_inputs(sample, pre, cutoff_len=2048)}
        batch = collate_left_padded([item], pre.tokenizer.pad_token_id, pre.video_token_id)
        answers += generate_batch(model, batch["model_inputs"], settings, pre)
    return answers


def ours(samples, pre, model, settings, num_workers) -> list[str]:
    answers = []
    for batch in make_loader(SampleInputs(samples, pre, 2048, None), settings.batch_size, num_workers):
        answers += generate_batch(model, batch["model_inputs"], settings, pre)
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/tiny-qwen2vl")
    parser.add_argument("--video-dir", type=Path, default=Path("data/sample/videos"))
    defaults = GenerationSettings()  # evaluate_model.py's defaults
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    args = parser.parse_args()

    paths = sorted(args.video_dir.glob("*/*.mp4"))[: args.samples]
    samples = [Sample(p.stem, str(p), str(p), PROMPT, "") for p in paths]
    model_settings = ModelSettings(base_model=args.model)
    pre = load_preprocessing(model_settings)
    model = load_base_model(model_settings, torch.device("cpu"))
    settings = GenerationSettings(batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    seed_style(samples[:1], pre, model, settings)  # warm-up

    start = time.perf_counter()
    seed_answers = seed_style(samples, pre, model, settings)
    seed_rate = len(samples) / (time.perf_counter() - start)
    start = time.perf_counter()
    our_answers = ours(samples, pre, model, settings, args.num_workers)
    our_rate = len(samples) / (time.perf_counter() - start)

    print(
        f"{len(samples)} clips, batch {args.batch_size}, {args.num_workers} decode workers, "
        f"{torch.get_num_threads()} torch threads, max_new_tokens {args.max_new_tokens}"
    )
    print(f"seed-style (one at a time, decode inline): {seed_rate:.2f} samples/s")
    print(f"ours (batched, decoding overlapped):       {our_rate:.2f} samples/s")
    print(f"ratio: {our_rate / seed_rate:.2f}x   same answers: {seed_answers == our_answers}")


if __name__ == "__main__":
    main()
