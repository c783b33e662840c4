"""Our video path vs LLaMA-Factory 0.9.5's stock qwen2_vl video path, same run, interleaved, identical frames.

    python -m bench.bench_video_sampling                  # sample WebVid clips + generated long-GOP and 1 s-GOP clips
    python -m bench.bench_video_sampling --rounds 7 --sample-clips 12

Times ``_regularize_videos`` of the stock ``qwen2_vl`` plugin and of ``qwen2_vl_exact`` on each clip,
alternating which goes first, in two modes: "sampling" (probe, pick 8 frames, decode them to RGB: the part
we replace) and "with resize" (plus LLaMA-Factory's own PIL resize to the 224×224 budget, unchanged and paid
equally by both: everything before the HF processor). Reports per clip the ratio of medians (stock / ours)
and the geometric mean per clip set. Before timing it checks both return identical pixels on every clip.

For every trusted clip it also measures a floor: opening the file, decoding only the frames the targets depend
on (each target's span from its keyframe, frames nothing references skipped) from packets already in memory, and
turning the targets into the RGB PIL images LLaMA-Factory takes. That is our path minus finding the spans (MP4
sample tables or a demux pass) and minus per-clip Python plumbing; an exact reader that decodes with FFmpeg and
hands LLaMA-Factory PIL frames cannot do less. stock / floor is printed as the ceiling on speed-up.

Generated sets (596×336 H.264, 25 fps, 10/20/30 s, whole-clip or 1 s GOPs): "flat" frames (tests/clips.py's
default) decode several times cheaper than real footage, which flatters fixed costs; "textured" frames
(a panning noise texture with grain) cost about what real footage costs; "textured+B" adds B-frames as most
real H.264 has. The full-decode cost per frame of every set is printed so it can be compared with real clips.
Targets (sampling mode): >= 2x geometric mean over all clips, >= 4x over all 1 s-GOP clips.
"""

import argparse
import math
import statistics
import time
from pathlib import Path

import av
from PIL import Image
from tqdm import tqdm

import plugins
from tests.clips import make_clip
from video import sample_indices
from video.container import demux
from video.decode import decode_kept_packets

GENERATED_DIR = Path(".cache/bench_clips")
SAMPLING = {"video_fps": 8.0, "video_maxlen": 8}
MODES = {  # a pixel budget no frame exceeds turns LLaMA-Factory's resize off
    "sampling": {"image_max_pixels": 10**12, "image_min_pixels": 0, **SAMPLING},
    "with resize": {"image_max_pixels": 224 * 224, "image_min_pixels": 16 * 16, **SAMPLING},
}
TARGET_MODE, TARGET_ALL, TARGET_GOP_1S = "sampling", 2.0, 4.0
FPS = 25
LOOKS = {"flat": {}, "textured": {"textured": True}, "textured+B": {"textured": True, "bframes": 3}}
GOPS = {"long-GOP": lambda seconds: seconds * FPS, "1 s-GOP": lambda seconds: FPS}


def generated_clips() -> list[tuple[str, Path]]:
    """(set name, path) of every generated clip, encoded once and cached under .cache/."""
    clips = []
    for look, options in LOOKS.items():
        for gop_name, gop_frames in GOPS.items():
            for seconds in (10, 20, 30):
                stem = f"{look.replace('+', '_')}_{gop_name.replace(' ', '').lower()}_{seconds}s"
                path = GENERATED_DIR / f"{stem}.mp4"
                if not path.exists():
                    make_clip(path, seconds * FPS, FPS, 596, 336, gop_frames(seconds), **options)
                clips.append((f"{look} {gop_name}", path))
    return clips


def time_once(plugin, path: Path, settings: dict) -> tuple[float, list]:
    from plugins.llamafactory_boundary import regularized_videos

    start = time.perf_counter()
    frames = regularized_videos(plugin, [str(path)], **settings)[0]
    return time.perf_counter() - start, frames


def full_decode_ms_per_frame(path: Path) -> float:
    """What one frame of this clip costs to decode (no colour conversion): how heavy the footage is."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        n_frames = sum(1 for _ in container.decode(container.streams.video[0]))
    return (time.perf_counter() - start) * 1e3 / n_frames


def floor_s(path: Path, rounds: int) -> float | None:
    """Median open time + median time to decode the targets from packets in memory and make them PIL images.

    None where the clip's metadata sends our path to a decode from the start (no keyframe spans to time).
    """
    open_times, decode_times = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        av.open(str(path)).close()
        open_times.append(time.perf_counter() - start)
    with av.open(str(path)) as container:
        info, packets = demux(container, path, keep_packets=True)
        if not info.metadata_trusted:
            return None
        targets = sorted(set(sample_indices(info, **SAMPLING)))
        for _ in range(rounds + 1):  # the first round warms the decoder up
            start = time.perf_counter()
            found = decode_kept_packets(container.streams.video[0], packets, info, targets)
            found = {index: Image.fromarray(rgb) for index, rgb in found.items()}  # what plugins/mm_plugin.py hands LF
            decode_times.append(time.perf_counter() - start)
            if found.keys() != set(targets):
                raise SystemExit(f"{path}: the floor missed frames {set(targets) - found.keys()}")
    return statistics.median(open_times) + statistics.median(decode_times[1:])


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def verdict(name: str, measured: float, target: float) -> str:
    return f"  {name:<46} {measured:5.2f}x  target >= {target:.0f}x  {'MET' if measured >= target else 'NOT MET'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per clip and path (median is kept)")
    parser.add_argument("--sample-clips", type=int, default=24, help="how many data/sample clips to include")
    parser.add_argument("--sample-dir", type=Path, default=Path("data/sample/videos"))
    args = parser.parse_args()

    plugins.register()
    from plugins.llamafactory_boundary import TEMPLATES

    stock, ours = TEMPLATES["qwen2_vl"].mm_plugin, TEMPLATES["qwen2_vl_exact"].mm_plugin
    sample = sorted(args.sample_dir.rglob("*.mp4"))[: args.sample_clips]
    clips = [("sample WebVid", path) for path in sample] + generated_clips()

    ratios: dict[tuple[str, str], list[float]] = {}
    ceilings: dict[str, list[float]] = {}  # stock / floor, sampling mode
    decode_cost: dict[str, list[float]] = {}
    rows = []
    for group, path in tqdm(clips, desc="clips", unit="clip"):
        decode_cost.setdefault(group, []).append(full_decode_ms_per_frame(path))
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
            least_s = floor_s(path, args.rounds) if mode == TARGET_MODE else None
            if least_s is not None:
                ceilings.setdefault(group, []).append(stock_s / least_s)
            rows.append((mode, group, path.name, stock_s, ours_s, least_s))

    print(f"\n{'mode':<12} {'set':<20} {'clip':<28} {'stock ms':>9} {'ours ms':>9} {'speed-up':>9} {'floor ms':>9}"
          f" {'ceiling':>8}")  # fmt: skip
    for mode, group, name, stock_s, ours_s, least_s in rows:
        floor = f"{least_s * 1e3:>9.1f} {stock_s / least_s:>7.2f}x" if least_s else ""
        speed = f"{stock_s * 1e3:>9.1f} {ours_s * 1e3:>9.1f} {stock_s / ours_s:>8.2f}x"
        print(f"{mode:<12} {group:<20} {name:<28} {speed} {floor}")
    print("\nfull-decode cost per frame of each set (mean; real 596x336 footage costs more than flat frames):")
    for group, costs in decode_cost.items():
        print(f"  {group:<20} {statistics.mean(costs):5.2f} ms/frame  over {len(costs)} clips")
    print(f"\ngeometric mean speed-up (stock / ours), identical frames, median of {args.rounds} rounds:")
    for mode in MODES:
        for (ratio_mode, group), values in ratios.items():
            if ratio_mode == mode:
                print(f"  {mode:<12} {group:<20} {geometric_mean(values):5.2f}x  over {len(values)} clips")
        every = [v for (ratio_mode, _), values in ratios.items() if ratio_mode == mode for v in values]
        gop_1s = [v for (ratio_mode, group), values in ratios.items() if ratio_mode == mode and "1 s-GOP" in group
                  for v in values]  # fmt: skip
        print(f"  {mode:<12} {'all 1 s-GOP clips':<20} {geometric_mean(gop_1s):5.2f}x  over {len(gop_1s)} clips")
        print(f"  {mode:<12} {'all clips':<20} {geometric_mean(every):5.2f}x  over {len(every)} clips")

    print(f"\nceiling (stock / floor: open, decode the frames the targets need, PIL images), {TARGET_MODE}:")
    for group, values in ceilings.items():
        print(f"  {group:<20} {geometric_mean(values):5.2f}x  over {len(values)} clips")
    gop_1s_ceilings = [v for group, values in ceilings.items() if "1 s-GOP" in group for v in values]
    if gop_1s_ceilings:
        print(f"  {'all 1 s-GOP clips':<20} {geometric_mean(gop_1s_ceilings):5.2f}x  over {len(gop_1s_ceilings)} clips")

    print(f"\ntargets ({TARGET_MODE} mode):")
    every = [v for (mode, _), values in ratios.items() if mode == TARGET_MODE for v in values]
    print(verdict("geometric mean over all clips", geometric_mean(every), TARGET_ALL))
    gop_1s_sets = sorted({group for (mode, group) in ratios if mode == TARGET_MODE and "1 s-GOP" in group})
    gop_1s = [v for group in gop_1s_sets for v in ratios[(TARGET_MODE, group)]]
    print(verdict("geometric mean over all 1 s-GOP clips", geometric_mean(gop_1s), TARGET_GOP_1S))
    for group in gop_1s_sets:
        print(verdict(f"  of which {group}", geometric_mean(ratios[(TARGET_MODE, group)]), TARGET_GOP_1S))


if __name__ == "__main__":
    main()
