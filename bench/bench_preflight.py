"""Preflight token-count rate: --workers processes vs one process (the preflight's loop before it was parallel),
same report checked first (target >= 3x on this machine's 2 cores).

    python -m bench.bench_preflight                          # 1000 samples, processes = CPUs, 3 rounds
    python -m bench.bench_preflight --samples 400 --workers 2 --rounds 5

Writes a dataset of --samples ShareGPT records into a temp dir, each with its own clip path (a link to one of the
sample clips in data/sample/videos, so no clip path is probed twice), and runs the preflight's measuring step
(plugins.preflight_measure.measure on configs/tiny_qwen2vl_demo.yaml) in this process, in four ways, alternating
for --rounds rounds so that contention hits all alike:
  1. one process, every clip's header probed, no decode check (workers=1: the same per-sample step in a loop, no
     pool): the baseline, the preflight's token count before it was parallel;
  2. a first preflight: the decode check fills a new frame store (its time is left out: bench_frame_store times
     that pass), then --workers processes count the tokens from the stored metadata;
  3. a later preflight: the store already holds every clip (the check finds them stored), then the same count;
  4. --workers processes probing every clip's header: --skip-decode-check with no store.
Each count includes what a user waits for after start-up: LLaMA-Factory's argument parsing, tokenizer and dataset
loading, listing the clips, the workers' start and the samples. Prints the median rate of each, the ratios to the
baseline and MET/NOT MET against 3x.
"""

import argparse
import csv
import dataclasses
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from plugins.decode_check import default_workers
from plugins.frame_source import DISABLED, FRAME_STORE_ENV
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
    entries = {"bench": {**SHAREGPT_ENTRY, "file_name": "bench.json"}}
    (root / "dataset_info.json").write_text(json.dumps(entries))


def settings_for(root: Path, dataset: str) -> dict:
    """The demo config on ``dataset`` alone (no eval split: only ``dataset`` is measured)."""
    overrides = [f"dataset_dir={root}", f"dataset={dataset}", f"output_dir={root / 'out'}", "cutoff_len=4096"]
    settings = load_run_config(CONFIG, overrides)
    settings.pop("eval_dataset", None)
    return {**settings, "eval_strategy": "no"}


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the workers, once the pool is shut down)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


def timed(settings: dict, workers: int, store: str, decode_check: bool):
    """(wall seconds, CPU seconds, report) of one preflight token count reading the frame store ``store`` ("off":
    none); with ``decode_check`` the check runs first, its wall time is left out and the CPU seconds are None."""
    from plugins.preflight_measure import measure

    os.environ[FRAME_STORE_ENV] = store  # the user's override, read by the preflight's entry point
    cpu, started = _cpu_seconds(), time.perf_counter()
    measured = measure(settings, decode_check=decode_check, workers=workers)
    elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    if measured.decode_check is not None:
        elapsed -= measured.decode_check.seconds
        cpu = None  # the check's processes cannot be told apart from the count's in the CPU time
    return elapsed, cpu, dataclasses.replace(measured.report, token_count=None, decode_check=None)


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
        settings = settings_for(root, "bench")
        _, _, expected = timed(settings, 1, DISABLED, decode_check=False)  # warm-up: imports, file caches
        built = str(root / "frames")
        timed(settings, args.workers, built, decode_check=True)  # the store every later preflight finds
        modes = {
            "one process, clips probed (the loop before)": (1, lambda _: DISABLED, False),
            f"first preflight: check fills a new store, {args.workers} processes count": (
                args.workers, lambda round_: str(root / f"new_store_{round_}"), True),
            f"later preflight: store built, {args.workers} processes count": (
                args.workers, lambda _: built, True),
            f"--skip-decode-check, no store: {args.workers} processes probe": (args.workers, lambda _: DISABLED, False),
        }  # fmt: skip
        seconds: dict[str, list[float]] = {mode: [] for mode in modes}
        cpu_seconds: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_ in range(args.rounds):
            for mode, (workers, store_of, decode_check) in modes.items():
                elapsed, cpu, report = timed(settings, workers, store_of(round_), decode_check)
                if report != expected:
                    raise SystemExit(f"{mode}: a different report than one process probing clips: not comparable")
                seconds[mode].append(elapsed)
                cpu_seconds[mode].append(cpu)
    cpus = default_workers()
    print(f"same report in every mode ({args.samples} samples, {expected.n_samples} measured); median of {args.rounds}")
    rates = {mode: args.samples / statistics.median(values) for mode, values in seconds.items()}
    baseline = next(iter(rates.values()))
    for mode, rate in rates.items():
        ratio = rate / baseline
        verdict = "" if rate == baseline else f"  {ratio:.2f}x ({'MET' if ratio >= TARGET_RATIO else 'NOT MET'})"
        print(f"  {mode:<60} {rate:7.1f} samples/s{verdict}")
    print(f"target >= {TARGET_RATIO:.0f}x the loop before; load average {os.getloadavg()[0]:.1f} on {cpus} CPUs")
    first = list(rates.values())[1]
    hours = [10_000_000 / rate / 3600 for rate in (baseline, first)]
    print(f"10 M samples' token count: {hours[0]:.1f} h before, {hours[1]:.1f} h in a first preflight now")
    # Other users of a shared machine slow the wall clock, not the CPU time a sample costs: the rate an idle
    # machine would give is (processes it can run at once) / (CPU seconds per sample).
    print("CPU time per sample (what contention does not change) and the rate it allows on idle CPUs:")
    for mode, (workers, _, decode_check) in modes.items():
        if decode_check:
            print(f"  {mode:<60} (not measured: the decode check's CPU time cannot be split from the count's)")
            continue
        per_sample = statistics.median(cpu_seconds[mode]) / args.samples
        idle_rate = min(workers, cpus) / per_sample
        print(f"  {mode:<60} {per_sample * 1000:5.2f} ms  -> <= {idle_rate:7.1f} samples/s")


if __name__ == "__main__":
    main()
