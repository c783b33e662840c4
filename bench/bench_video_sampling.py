"""Our video path vs LLaMA-Factory 0.9.5's stock qwen2_vl video path, same run, interleaved, identical frames.

    python -m bench.bench_video_sampling                  # sample WebVid clips + generated long-GOP and 1 s-GOP clips
    python -m bench.bench_video_sampling --rounds 7 --sample-clips 12

Times ``_regularize_videos`` of the stock ``qwen2_vl`` plugin and of ``qwen2_vl_exact`` on each clip,
alternating which goes first, in two modes: "sampling" (probe, pick 8 frames, decode them to RGB: the part
we replace) and "with resize" (plus LLaMA-Factory's own PIL resize to the 224×224 budget, unchanged and paid
equally by both: everything before the HF processor). Reports per clip the ratio of medians (stock / ours)
and the geometric mean per clip set. Before timing it checks both return identical pixels on every clip.
Targets (sampling): >= 2x over all clips, >= 4x on 1 s-GOP clips.
"""

import argparse
import math
import statistics
import time
from pathlib import Path

from tqdm import tqdm

import plugins
from tests.clips import make_clip

GENERATED_DIR = Path(".cache/bench_clips")
SAMPLING = {"video_fps": 8.0, "video_maxlen": 8}
MODES = {  # a pixel budget no frame exceeds turns LLaMA-Factory's resize off
    "sampling": {"image_max_pixels": 10**12, "image_min_pixels": 0, **SAMPLING},
    "with resize": {"image_max_pixels": 224 * 224, "image_min_pixels": 16 * 16, **SAMPLING},
}
FPS = 25
GENERATED = [(f"{kind}_{seconds}s.mp4", seconds, gop) for seconds in (10, 20, 30)
             for kind, gop in (("long_gop", seconds * FPS), ("gop_1s", FPS))]  # fmt: skip


def generated_clips() -> list[tuple[str, Path]]:
    """596×336 H.264 at 25 fps (WebVid's common size), whole-clip or 1 s GOPs; cached under .cache/."""
    clips = []
    for name, seconds, gop in GENERATED:
        path = GENERATED_DIR / name
        if not path.exists():
            make_clip(path, n_frames=seconds * FPS, fps=FPS, width=596, height=336, gop=gop)
        clips.append(("long-GOP" if name.startswith("long") else "1 s-GOP", path))
    return clips


def time_once(plugin, path: Path, settings: dict) -> tuple[float, list]:
    start = time.perf_counter()
    frames = plugin._regularize_videos([str(path)], **settings)["videos"][0]
    return time.perf_counter() - start, frames


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per clip and path (median is kept)")
    parser.add_argument("--sample-clips", type=int, default=24, help="how many data/sample clips to include")
    parser.add_argument("--sample-dir", type=Path, default=Path("data/sample/videos"))
    args = parser.parse_args()

    plugins.register()
    from llamafactory.data.template import TEMPLATES

    stock, ours = TEMPLATES["qwen2_vl"].mm_plugin, TEMPLATES["qwen2_vl_exact"].mm_plugin
    sample = sorted(args.sample_dir.rglob("*.mp4"))[: args.sample_clips]
    clips = [("sample WebVid", path) for path in sample] + generated_clips()

    ratios: dict[tuple[str, str], list[float]] = {}
    rows = []
    for group, path in tqdm(clips, desc="clips", unit="clip"):
        for mode, settings in MODES.items():
            _, stock_frames = time_once(stock, path, settings)  # warm-up, and the identity check
            _, our_frames = time_once(ours, path, settings)
            if [f.tobytes() for f in stock_frames] != [f.tobytes() for f in our_frames]:
                raise SystemExit(f"{path}: frames differ from the stock path; the benchmark compares equal work only")
            times = {"stock": [], "ours": []}
            for round_index in range(args.rounds):
                order = [("stock", stock), ("ours", ours)]
                for name, plugin in order if round_index % 2 == 0 else order[::-1]:
                    times[name].append(time_once(plugin, path, settings)[0])
            stock_s, ours_s = statistics.median(times["stock"]), statistics.median(times["ours"])
            ratios.setdefault((mode, group), []).append(stock_s / ours_s)
            rows.append((mode, group, path.name, stock_s, ours_s))

    print(f"\n{'mode':<12} {'set':<14} {'clip':<22} {'stock ms':>9} {'ours ms':>9} {'speed-up':>9}")
    for mode, group, name, stock_s, ours_s in rows:
        print(f"{mode:<12} {group:<14} {name:<22} {stock_s * 1e3:>9.1f} {ours_s * 1e3:>9.1f} {stock_s / ours_s:>8.2f}x")
    print(f"\ngeometric mean speed-up (stock / ours), identical frames, median of {args.rounds} rounds:")
    for mode in MODES:
        for (ratio_mode, group), values in ratios.items():
            if ratio_mode == mode:
                print(f"  {mode:<12} {group:<14} {geometric_mean(values):5.2f}x  over {len(values)} clips")
        every = [v for (ratio_mode, _), values in ratios.items() if ratio_mode == mode for v in values]
        print(f"  {mode:<12} {'all clips':<14} {geometric_mean(every):5.2f}x  over {len(every)} clips")

if __name__ == "__main__":
    main()
