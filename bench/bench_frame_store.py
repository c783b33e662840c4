"""The frame store vs LLaMA-Factory 0.9.5's stock qwen2_vl video path, same run, identical pixels checked first.

    python -m bench.bench_frame_store                        # 24 sample WebVid clips + the textured generated sets
    python -m bench.bench_frame_store --rounds 5 --sample-clips 48

(a) Frames for one sample on epoch >= 2: the store read (our plugin's read_videos, store open and warm) vs the
    stock path (decode every frame + LLaMA-Factory's resize: plugins.llamafactory_boundary's stock_read_videos),
    at the real experiment's settings (8 frames, video_fps 8, 224x224 budget). Target >= 20x geometric mean.
(b) The collator's whole per-sample input build (LLaMA-Factory's get_mm_inputs: frames + the HF processor call)
    with the store vs the stock plugin. Target >= 5x; the breakdown shows where the rest of the time goes.
(c) Store build: clips/s per core (decode through the plugin + resize + compress, in one process) vs a plain full
    decode (the stock path) of the same clips; bytes per clip per codec on the sample and the textured clips,
    and the arithmetic for WebVid-10M (10.7 M clips x 8 frames at the 224x224 budget).
Generated textured clips (bench.bench_video_sampling: 596x336 H.264, noise texture + grain, 10-30 s) decode like
real footage and compress like the worst of it; the sample clips are flat synthetic frames and compress very well.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.bench_video_sampling import generated_clips, geometric_mean, verdict
from frame_store.build import build_store, decode_entry
from frame_store.codec import CODECS, encode
from frame_store.key import StoreSettings, StoreTarget, clip_identity, store_dir
from frame_store.plugin_hook import store_for
from plugins.frame_source import FrameSource, builder_plugin
from plugins.registry import template_plugin

READ = {"video_fps": 8.0, "video_maxlen": 8, "image_max_pixels": 224 * 224, "image_min_pixels": 16 * 16}
TARGET_FRAMES, TARGET_INPUTS = 20.0, 5.0
WEBVID_CLIPS = 10.7e6


def _arrays(result: dict) -> list[bytes]:
    return [frame.tobytes() for frame in result["videos"][0]]


def _median_s(function, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _processor():
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained("models/tiny-qwen2vl")
    for key, value in (("video_max_pixels", READ["image_max_pixels"]), ("video_min_pixels", READ["image_min_pixels"]),
                       ("video_fps", READ["video_fps"]), ("video_maxlen", READ["video_maxlen"])):  # fmt: skip
        setattr(processor, key, value)  # as LLaMA-Factory's load_tokenizer sets them from the config
    return processor


def frames_and_inputs(clips, stock, ours, rounds: int) -> tuple[dict, dict, dict]:
    """Per group: (a) stock/store frame ratios, (b) stock/store input-build ratios and the store's breakdown."""
    processor = _processor()
    frames, inputs, breakdown = {}, {}, {}
    for group, path in tqdm(clips, desc="(a, b) clips", unit="clip"):
        video = [str(path)]
        stored = ours.read_videos(video, **READ)
        if _arrays(stored) != _arrays(ours.stock_read_videos(video, **READ)):
            raise SystemExit(f"{path}: store frames differ from the stock path's; the benchmark compares equal work")
        stock_s = _median_s(lambda video=video: ours.stock_read_videos(video, **READ), rounds)
        store_s = _median_s(lambda video=video: ours.read_videos(video, **READ), rounds)
        frames.setdefault(group, []).append(stock_s / store_s)
        args = ([], video, [], [0], [1], [0], [[0]], processor)
        stock_in = _median_s(lambda args=args: stock.get_mm_inputs(*args), rounds)
        store_in = _median_s(lambda args=args: ours.get_mm_inputs(*args), rounds)
        inputs.setdefault(group, []).append(stock_in / store_in)
        breakdown.setdefault(group, []).append((stock_s, store_s, stock_in, store_in))
    return frames, inputs, breakdown


def build_rates(clips, stock, ours, settings: StoreSettings) -> tuple[float, float, dict]:
    """(store build clips/s on one core, plain full decode clips/s, {group: {codec: bytes per clip}})."""
    build_s = decode_s = 0.0
    sizes: dict[str, dict[str, list[int]]] = {}
    builder = builder_plugin(ours)  # as the build: reads no store
    for group, path in tqdm(clips, desc="(c) build", unit="clip"):
        start = time.perf_counter()
        decode_entry(builder, str(path), settings, "zlib", clip_identity(path))
        build_s += time.perf_counter() - start
        start = time.perf_counter()
        builder.stock_read_videos([str(path)], **READ)
        decode_s += time.perf_counter() - start
        array = np.stack([np.asarray(f) for f in builder.decode_videos([str(path)], **READ)["videos"][0]])
        kind = "textured" if "textured" in group else "sample"
        for codec in CODECS:
            sizes.setdefault(kind, {}).setdefault(codec, []).append(len(encode(codec, array)))
    means = {kind: {codec: statistics.mean(values) for codec, values in by.items()} for kind, by in sizes.items()}
    return len(clips) / build_s, len(clips) / decode_s, means


def main() -> None:
    """`python -m bench.bench_frame_store [--rounds N] [--sample-clips N]`."""
    import os

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per clip and path (median is kept)")
    parser.add_argument("--sample-clips", type=int, default=24, help="how many data/sample clips to include")
    parser.add_argument("--sample-dir", type=Path, default=Path("data/sample/videos"))
    args = parser.parse_args()

    stock, ours = template_plugin("qwen2_vl"), template_plugin("qwen2_vl_exact")
    sample = sorted(args.sample_dir.rglob("*.mp4"))[: args.sample_clips]
    clips = [("sample WebVid", path) for path in sample]
    clips += [(group, path) for group, path in generated_clips() if group.startswith("textured")]
    settings = StoreSettings.from_read_settings(ours, READ)
    with tempfile.TemporaryDirectory(prefix="bench_frame_store.", dir=".cache") as root:
        target = StoreTarget(store_dir(root, settings), "qwen2_vl_exact", settings)
        start = time.perf_counter()
        result = build_store([str(path) for _, path in clips], target, builder_plugin(ours), workers=os.cpu_count())
        wall = time.perf_counter() - start
        print(f"{result.summary()}\n  wall {wall:.1f} s with {result.workers} processes (worker start-up included)")
        FrameSource(Path(root), target.directory).attach(ours)
        store = store_for(Path(root), ours, READ)
        frames, inputs, breakdown = frames_and_inputs(clips, stock, ours, args.rounds)
        print(f"  store reads: {dict(store.counts)}")
        store_bytes = sum(p.stat().st_size for p in Path(target.directory).glob("shard-*.data")) / len(clips)
        FrameSource(None, None).attach(ours)
    build_rate, decode_rate, sizes = build_rates(clips, stock, ours, settings)

    print(f"\n(a) frames for one sample, epoch >= 2: stock decode + resize / store read (median of {args.rounds})")
    for group, values in frames.items():
        stock_ms = statistics.mean(b[0] for b in breakdown[group]) * 1e3
        store_ms = statistics.mean(b[1] for b in breakdown[group]) * 1e3
        print(f"  {group:<20} {geometric_mean(values):7.1f}x  stock {stock_ms:7.1f} ms  store {store_ms:5.2f} ms"
              f"  over {len(values)} clips")  # fmt: skip
    every = [v for values in frames.values() for v in values]
    print(verdict("geometric mean over every clip", geometric_mean(every), TARGET_FRAMES))

    print("\n(b) collator input build per sample (get_mm_inputs: frames + processor): stock / store")
    for group, values in inputs.items():
        rows = breakdown[group]
        store_in, store_frames = statistics.mean(r[3] for r in rows), statistics.mean(r[1] for r in rows)
        print(f"  {group:<20} {geometric_mean(values):7.1f}x  stock {statistics.mean(r[2] for r in rows) * 1e3:7.1f} ms"
              f"  store {store_in * 1e3:6.2f} ms = frames {store_frames * 1e3:5.2f} + processor and the rest "
              f"{(store_in - store_frames) * 1e3:5.2f} ms")  # fmt: skip
    every = [v for values in inputs.values() for v in values]
    print(verdict("geometric mean over every clip", geometric_mean(every), TARGET_INPUTS))

    print("\n(c) store build vs a plain full decode (one process, worker start-up excluded)")
    print(f"  store build {build_rate:6.2f} clips/s per core; stock full decode + resize {decode_rate:6.2f} clips/s;"
          f" build / decode {build_rate / decode_rate:4.2f}x")  # fmt: skip
    print(f"  store on disk (zlib): {store_bytes / 1e3:8.1f} kB per clip over these {len(clips)} clips")
    print(f"  {'bytes per clip':<16}" + "".join(f"{codec:>12}" for codec in CODECS) + "   WebVid-10M (10.7 M clips)")
    for kind, by_codec in sizes.items():
        cells = "".join(f"{by_codec[codec] / 1e3:>10.1f}kB" for codec in CODECS)
        tb = "  ".join(f"{codec} {by_codec[codec] * WEBVID_CLIPS / 1e12:.2f} TB" for codec in ("raw", "zlib", "webp"))
        print(f"  {kind:<16}{cells}   {tb}")


if __name__ == "__main__":
    main()
