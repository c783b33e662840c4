"""Converter throughput on a 1,000,000-row WebVid CSV whose clips all exist (target: <= 60 s, bounded memory).

    python -m bench.bench_convert                   # 1,000,000 rows
    python -m bench.bench_convert --rows 100000     # quicker

Builds, in a temp dir: the CSV (real header, captions with commas/quotes/non-ASCII), 20,000 page folders with
one hard link per row to one real clip (so every clip exists without 1 M encodes), and a probe cache holding
that clip's probe for every path (what a previous run leaves). Then runs the converter twice in a child process,
probing from the cache and with --no-probe, and prints wall time, rows/s and the child's peak RSS.
"""

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from data.probe_cache import ProbeCache, probe_clip
from tests.clips import make_clip

TARGET_S = 60.0
LINKS_PER_SOURCE = 60_000


def build(root: Path, rows: int) -> tuple[Path, Path]:
    videos = root / "videos"
    clip = make_clip(root / "source.mp4", n_frames=48, fps=24, width=96, height=64)
    outcome = probe_clip(str(clip))
    csv_path = root / "webvid.csv"
    keys = []
    source = clip
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["videoid", "name", "page_idx", "page_dir", "duration", "contentUrl"])
        for i in range(rows):
            page = i // 50
            page_dir = f"{page * 50 + 1:06d}_{page * 50 + 50:06d}"
            if i % 50 == 0:
                (videos / page_dir).mkdir(parents=True, exist_ok=True)
            videoid = str(1_000_000 + i)
            path = videos / page_dir / f"{videoid}.mp4"
            if i % LINKS_PER_SOURCE == 0:  # ext4 allows 65,000 links to one file
                source = root / f"source_{i // LINKS_PER_SOURCE}.mp4"
                shutil.copy(clip, source)
            os.link(source, path)
            writer.writerow(
                [
                    videoid,
                    f'Aerial view, "city" at night {i} – café',
                    page + 1,
                    page_dir,
                    "PT00H00M17S",
                    f"https://example.com/{videoid}.mp4",
                ]
            )
            stat = source.stat()
            keys.append((os.path.abspath(path), stat.st_size, stat.st_mtime_ns))
    with ProbeCache(root / "out" / "probe_cache.sqlite") as cache:
        for start in range(0, len(keys), 50_000):
            cache.put_many((key, outcome) for key in keys[start : start + 50_000])
    return csv_path, videos


def timed_convert(root: Path, csv_path: Path, videos: Path, extra: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one converter run in a child process."""
    command = [
        sys.executable,
        "-m",
        "data.convert_webvid",
        "--csv",
        str(csv_path),
        "--video-dir",
        str(videos),
        "--out-dir",
        str(root / "out"),
        "--dataset-info",
        str(root / "dataset_info.json"),
        *extra,
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    return elapsed, peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        csv_path, videos = build(root, args.rows)
        print(f"setup: {args.rows:,} rows, clips and probe cache in {time.perf_counter() - started:.0f} s")
        for label, extra in (("probe cache", []), ("--no-probe", ["--no-probe"])):
            elapsed, peak_mib = timed_convert(root, csv_path, videos, extra)
            verdict = "ok" if elapsed <= TARGET_S * args.rows / 1_000_000 else "SLOWER than target"
            print(
                f"convert ({label:>11}): {elapsed:6.1f} s  {args.rows / elapsed:>9,.0f} rows/s  "
                f"peak RSS {peak_mib:,.0f} MiB  (target <= {TARGET_S:.0f} s per 1 M rows: {verdict})"
            )


if __name__ == "__main__":
    main()
