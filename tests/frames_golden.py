"""The frames our plugins hand the processor, as hashes: what tests/golden/frames.json pins for each clip of the matrix.

    python -m tests.frames_golden          # regenerate tests/golden/frames.json (after bumping FRAMES_VERSION)

A store directory is keyed by video.FRAMES_VERSION, not by our source text (frame_store.key), so a change that
alters frames must bump it. tests/test_frames_golden.py recomputes these hashes and fails until it is bumped and
this file regenerated. Each clip of tests/video_matrix.py is read by each family's plugin reading no store
(plugins.frame_source.builder_plugin), as the frame store's build stores it: sha256 of the uint8 frames, their shape,
the plugin's other per-video values and the token metadata.
"""

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from frame_store.key import decoder_versions
from plugins.frame_source import builder_plugin
from plugins.registry import template_plugin
from tests.video_matrix import build_clip_matrix
from video import FRAMES_VERSION

GOLDEN = Path(__file__).parent / "golden" / "frames.json"
TEMPLATES = ("qwen2_vl_exact", "qwen3_vl_exact")  # one plugin class per family: each has its own read rule
READ = {"video_fps": 8.0, "video_maxlen": 8, "image_max_pixels": 112 * 112, "image_min_pixels": 16 * 16}
REGENERATE = "python -m tests.frames_golden"


def clip_hashes(plugin, path: str) -> dict:
    """What the store keeps of one clip, with the frames as a sha256."""
    results = plugin.decode_videos([path], **READ)
    frames = np.stack([np.asarray(frame) for frame in results["videos"][0]])
    metadata = plugin.clip_metadata(path, READ["video_fps"], READ["video_maxlen"])
    values = {key: values[0] for key, values in results.items() if key != "videos"}
    plain = json.loads(json.dumps({"results": values, "metadata": metadata}, default=lambda v: v.tolist()))
    return {"sha256": hashlib.sha256(frames.tobytes()).hexdigest(), "shape": list(frames.shape), **plain}


def frame_hashes(clip_matrix: dict[str, tuple[Path, bool]]) -> dict:
    """{"frames_version", "decoder", "clips": {template: {clip name: clip_hashes}}} for the matrix's clips."""
    clips = {}
    for template in TEMPLATES:
        plugin = builder_plugin(template_plugin(template))  # reads no store: decodes
        clips[template] = {name: clip_hashes(plugin, str(path)) for name, (path, _) in sorted(clip_matrix.items())}
    return {"frames_version": FRAMES_VERSION, "decoder": decoder_versions(), "read": READ, "clips": clips}


def main() -> None:
    """Write tests/golden/frames.json from a fresh clip matrix."""
    from data.publish import write_text_atomic

    with tempfile.TemporaryDirectory() as directory:
        hashes = frame_hashes(build_clip_matrix(Path(directory)))
    GOLDEN.parent.mkdir(exist_ok=True)
    write_text_atomic(GOLDEN, json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN} (FRAMES_VERSION {FRAMES_VERSION}, {sum(map(len, hashes['clips'].values()))} clips)")


if __name__ == "__main__":
    main()
