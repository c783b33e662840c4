"""Copies of a test set whose clips play backwards: the demo's control for "the model reads frame order".

    python -m data.reverse_clips --test-data data/webvid/webvid_test.json --media-dir . \
        --out-dir data/webvid_reversed                    # -> data/webvid_reversed/webvid_test_reversed.json
    python evaluate_model.py --adapter-path saves/tiny_qwen2vl_demo \
        --test-data data/webvid_reversed/webvid_test_reversed.json --video-dir . --output-dir outputs/reversed

Every clip of ``--test-data`` (paths relative to ``--media-dir``) is decoded in full with PyAV and re-encoded with
its frames in reverse order (same fps, size and pixel format; H.264, near-lossless) to
``OUT/videos/<its path>``; ``OUT/<test stem>_reversed.json`` is the same test set (ids, prompts, references
unchanged) pointing at the copies, relative to the same media dir. Evaluation then reads them through its usual
video path: nothing in training or evaluation knows the clips were reversed. A clip that cannot be decoded stops
the run, naming it. A copy newer than its clip is kept (a rerun only writes what is missing or stale). Its worker
processes (common.pool) stop within a fraction of a second when it is killed, even by kill -9.
"""

import argparse
import json
import os
from pathlib import Path

from common.pool import WorkerPool

REVERSED_SUFFIX = "_reversed"
ENCODE_OPTIONS = {"preset": "ultrafast", "crf": "12", "threads": "1"}  # near-lossless; one thread: same bytes


class ReverseError(RuntimeError):
    """A clip that could not be reversed (the message names it and why)."""


def reverse_clip(source: Path, target: Path) -> int:
    """Write ``target``: ``source``'s frames in reverse order, same fps and size. Returns the frame count."""
    import av

    try:
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            frames = [frame.to_ndarray(format="yuv420p") for frame in container.decode(stream)]
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.error.FFmpegError, FileNotFoundError, IndexError) as error:
        raise ReverseError(f"cannot decode {source}: {error}") from error
    if not frames or not rate:
        raise ReverseError(f"cannot reverse {source}: {'no frames' if not frames else 'no frame rate'} decoded")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with av.open(str(partial), mode="w", format="mp4") as out:
        encoder = out.add_stream("libx264", rate=rate, options=ENCODE_OPTIONS)
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
        for pixels in reversed(frames):
            out.mux(encoder.encode(av.VideoFrame.from_ndarray(pixels, format="yuv420p")))
        out.mux(encoder.encode())
    os.replace(partial, target)
    return len(frames)


def _reverse_one(job: tuple[Path, Path]) -> Path:
    source, target = job
    if not (target.exists() and source.exists() and target.stat().st_mtime_ns >= source.stat().st_mtime_ns):
        reverse_clip(source, target)
    return target


def reverse_test_set(test_data: Path, media_dir: Path, out_dir: Path, workers: int = 2) -> Path:
    """Reverse every clip of ``test_data`` into ``out_dir`` and write the test set pointing at them; returns it."""
    from tqdm import tqdm

    from data.publish import write_text_atomic

    records = json.loads(Path(test_data).read_text(encoding="utf-8"))
    out_dir, media_dir = Path(out_dir), Path(media_dir)
    copies = out_dir / "videos"
    jobs, reversed_records = [], []
    for index, record in enumerate(records):
        videos = record.get("videos") or []
        if len(videos) != 1:
            raise ReverseError(f"{test_data}: record {index} (id {record.get('id')}) has {len(videos)} videos, not 1")
        relative = Path(videos[0])
        if relative.is_absolute() or ".." in relative.parts:
            raise ReverseError(
                f"{test_data}: record {index} (id {record.get('id')}) has video path {relative}: reversing needs "
                "paths relative to --media-dir, as the converter writes them"
            )
        target = copies / relative
        jobs.append((media_dir / relative, target))
        reversed_records.append({**record, "videos": [os.path.relpath(target, media_dir)]})
    with WorkerPool(workers, start_method="fork") as pool:
        reversing = pool.results(_reverse_one, jobs, ordered=False)
        for _ in tqdm(reversing, total=len(jobs), desc="reversing clips", unit="clip"):
            pass
    out_path = out_dir / f"{Path(test_data).stem}{REVERSED_SUFFIX}.json"
    write_text_atomic(out_path, json.dumps(reversed_records, indent=1, ensure_ascii=False) + "\n")
    return out_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-data", type=Path, required=True, help="ShareGPT test set whose clips to reverse")
    parser.add_argument("--media-dir", type=Path, default=Path("."), help="what its video paths are relative to")
    parser.add_argument("--out-dir", type=Path, required=True, help="where the copies and the new test set go")
    parser.add_argument("--workers", type=int, default=2, help="processes decoding and encoding clips")
    args = parser.parse_args()
    try:
        out_path = reverse_test_set(args.test_data, args.media_dir, args.out_dir, args.workers)
    except ReverseError as error:
        raise SystemExit(f"reverse_clips: {error}") from None
    print(f"reversed test set: {out_path} (clips under {args.out_dir / 'videos'}, relative to {args.media_dir})")


if __name__ == "__main__":
    main()
