"""Probe rate on WebVid-like clips (596x336, 10-30 s) vs fully decoding the same clips (target >= 50 clips/s,
2 cores).

    python -m bench.bench_probe
    python -m bench.bench_probe --workers 2 --repeat 20

Encodes six H.264 clips (0.5 s GOPs, 24-30 fps) into a temp dir, then measures: the converter's probe
(data.probe_cache.probe_clip: no decoding, truncation check included) on --workers processes, the same probe on
one process, and a full decode of every frame (PyAV, one process). Prints clips/s and the cost of a probe
relative to a full decode of the same clip.
"""

import argparse
import tempfile
import time
from pathlib import Path

from data.probe_cache import Prober, probe_clip
from tests.clips import decode_all_frames, make_clip

TARGET_CLIPS_PER_S = 50.0
CLIPS = ((10, 25), (15, 30), (20, 24), (30, 25), (12, 30), (25, 24))  # (seconds, fps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="probing processes")
    parser.add_argument("--repeat", type=int, default=20, help="how many times each clip is probed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_probe_") as tmp:
        clips = [
            str(
                make_clip(
                    Path(tmp) / f"clip_{seconds}s_{fps}fps.mp4",
                    n_frames=seconds * fps,
                    fps=fps,
                    width=596,
                    height=336,
                    gop=fps // 2,
                )
            )
            for seconds, fps in CLIPS
        ]
        paths = clips * args.repeat
        with Prober(args.workers) as prober:
            list(prober.probe(clips))  # start the workers
            started = time.perf_counter()
            outcomes = list(prober.probe(paths))
            parallel_s = time.perf_counter() - started
        assert all(outcome.summary is not None for outcome in outcomes), "a benchmark clip failed to probe"

        started = time.perf_counter()
        for path in clips * 3:
            probe_clip(path)
        probe_one_s = (time.perf_counter() - started) / (3 * len(clips))

        started = time.perf_counter()
        for path in clips:
            decode_all_frames(path)
        decode_one_s = (time.perf_counter() - started) / len(clips)

    rate = len(paths) / parallel_s
    verdict = "ok" if rate >= TARGET_CLIPS_PER_S else "BELOW target"
    print(
        f"probe, {args.workers} processes: {rate:7.1f} clips/s over {len(paths)} probes "
        f"(target >= {TARGET_CLIPS_PER_S:.0f}: {verdict})"
    )
    print(f"probe, 1 process:     {1 / probe_one_s:7.1f} clips/s ({probe_one_s * 1000:.1f} ms/clip)")
    print(f"full decode, 1 process: {1 / decode_one_s:5.1f} clips/s ({decode_one_s * 1000:.0f} ms/clip)")
    print(f"probe costs {probe_one_s / decode_one_s:.3f} of a full decode ({decode_one_s / probe_one_s:.0f}x cheaper)")


if __name__ == "__main__":
    main()
