"""Preflight token-count rate: --workers processes vs one process (the preflight's loop before it was parallel),
same report checked first (target >= 3x on this machine's 2 cores).

    python -m bench.bench_preflight                          # 1000 samples, processes = CPUs, 3 rounds
    python -m bench.bench_preflight --samples 400 --workers 2 --rounds 5

Writes a dataset of --samples ShareGPT records into a temp dir, each with its own clip path (a link to one of the
sample clips in data/sample/videos, so no clip is probed twice), and runs the preflight's measuring step
(plugins.preflight_measure.measure on configs/tiny_qwen2vl_demo.yaml, --skip-decode-check: the decode check is
timed by its own benchmark) in this process: one process (workers=1: the same per-sample step in a loop, no pool)
and --workers processes, alternating for --rounds rounds so that contention hits both alike. Each run includes
what a user waits for after start-up: LLaMA-Factory's argument parsing, tokenizer and dataset loading, the workers'
start and the samples. Prints the median rate of each and the ratio, MET/NOT MET against 3x.
"""

import argparse
import csv
import dataclasses
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from plugins.decode_check import default_workers
from plugins.run_config import load_run_config
from plugins.run_log import log_libraries_to

TARGET_RATIO = 3.0
CONFIG = Path("configs/tiny_qwen2vl_demo.yaml")
SAMPLE_DIR = Path("data/sample")  # `make sample-data` writes it
SHAREGPT_ENTRY = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages", "videos": "videos"},
    "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
}


def write_dataset(root: Path, n_samples: int) -> None:
    """ROOT/bench.json: n_samples WebVid-style records, each on its own link to a sample clip."""
    rows = list(csv.DictReader((SAMPLE_DIR / "webvid.csv").open(encoding="utf-8")))
    clips = [SAMPLE_DIR / "videos" / row["page_dir"] / f"{row['videoid']}.mp4" for row in rows]
    if not rows or not all(clip.is_file() for clip in clips):
        raise SystemExit(f"{SAMPLE_DIR}: sample clips missing; run `make sample-data` first")
    (root / "clips").mkdir()
    records = []
    for n in range(n_samples):
        row, clip = rows[n % len(rows)], clips[n % len(rows)]
        link = root / "clips" / f"{n:07d}.mp4"
        os.symlink(clip.resolve(), link)
        records.append(
            {
                "id": str(n),
                "videos": [str(link.relative_to(root))],
                "messages": [
                    {"role": "user", "content": "<video>Describe this video in one sentence."},
                    {"role": "assistant", "content": row["name"]},
                ],
            }
        )
    (root / "bench.json").write_text(json.dumps(records))
    (root / "dataset_info.json").write_text(json.dumps({"bench": {**SHAREGPT_ENTRY, "file_name": "bench.json"}}))


def timed(settings: dict, workers: int):
    """(seconds, report) of one preflight measurement without the decode check."""
    from plugins.preflight_measure import measure

    started = time.perf_counter()
    report = measure(settings, decode_check=False, workers=workers).report
    return time.perf_counter() - started, dataclasses.replace(report, token_count=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1000, help="samples in the dataset")
    parser.add_argument("--workers", type=int, default=default_workers(), help="processes (default: CPUs)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each; the median is reported")
    args = parser.parse_args()
    if args.workers < 2:
        parser.error("--workers: compare at least 2 processes with one")
    with tempfile.TemporaryDirectory(prefix="bench_preflight_") as tmp:
        root = Path(tmp)
        write_dataset(root, args.samples)
        log_libraries_to(root / "bench.log")  # LLaMA-Factory's and transformers' chatter: not on the console
        overrides = [f"dataset_dir={root}", "dataset=bench", f"output_dir={root / 'out'}", "cutoff_len=4096"]
        settings = load_run_config(CONFIG, overrides)
        _, expected = timed(settings, 1)  # warm-up: imports, file caches
        seconds = {1: [], args.workers: []}
        for _ in range(args.rounds):
            for workers in seconds:
                elapsed, report = timed(settings, workers)
                if report != expected:
                    raise SystemExit(f"{workers} processes gave a different report than one process: not comparable")
                seconds[workers].append(elapsed)
    one, many = (args.samples / statistics.median(seconds[w]) for w in seconds)
    ratio = many / one
    load = os.getloadavg()[0]
    print(f"same report from 1 and {args.workers} processes ({args.samples} samples, {expected.n_samples} measured)")
    print(f"one process (the loop before):  {one:7.1f} samples/s")
    print(f"{args.workers} processes:                    {many:7.1f} samples/s")
    print(
        f"ratio {ratio:.2f}x (target >= {TARGET_RATIO:.0f}x: {'MET' if ratio >= TARGET_RATIO else 'NOT MET'}); "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"10 M samples at {many:.0f} samples/s: {10_000_000 / many / 3600:.1f} h")


if __name__ == "__main__":
    main()
