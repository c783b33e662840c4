"""Run every benchmark, one process each so they do not disturb each other: what `make bench` runs.

    python -m bench.run_all
    python -m bench.run_all bench_probe bench_eval     # only these

Each benchmark measures ours against its named baseline in the same run and prints the ratio.
"""

import subprocess
import sys

BENCHMARKS = (
    "bench_video_sampling",  # our frame sampler vs LLaMA-Factory 0.9.5's stock qwen2_vl video path
    "bench_probe",  # converter probe (no decoding) vs fully decoding the same clips
    "bench_convert",  # 1,000,000-row WebVid CSV conversion: rows/s and peak RSS
    "bench_eval",  # batched, overlapped evaluation vs the seed's one-at-a-time loop
    "bench_preflight",  # preflight token count on all CPUs vs one process, same report
    "bench_frame_store",  # frame store reads / collator inputs / build vs LLaMA-Factory's stock decode
    "bench_store_formats",  # our shard format vs Parquet and WebDataset-style tar (LMDB where installed)
    "bench_autoload",  # `python -c pass` with the llamafactory-cli start-up hook vs without it
)


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    failed = []
    for name in chosen:
        print(f"\n=== bench.{name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"], check=False).returncode != 0:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {failed}")


if __name__ == "__main__":
    main()
