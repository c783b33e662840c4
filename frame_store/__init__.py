"""Decode once: every clip's sampled frames, exactly as training reads them, kept in sharded files.

    python -m plugins.frames build CONFIG.yaml [key=value ...] [--workers K]      # `make frames CONFIG=...`
    python -m plugins.frames build CONFIG.yaml --num-shards 64 --shard-index $SLURM_ARRAY_TASK_ID   # one machine's
    python -m plugins.frames merge CONFIG.yaml [key=value ...]                    # after every shard: write index

Layout: ``<root>/<settings hash>/`` (root: chosen by plugins.frame_source) holds
settings.json, one ``shard-IIIII-of-NNNNN.{data,jsonl,done}`` set per shard and, after the merge, index.npy and
manifest.json. Readers (our mm plugin: training collator, preflight, evaluation) look clips up by resolved path;
an entry is served only when its checksum holds and, where the clip is still on disk, its identity matches (size,
mtime_ns, a hash of both ends: docs/frame-store-format.md).
One file per job: key.py (settings and clip keys), codec.py (frame bytes), shard.py (one shard's files),
build.py (the parallel pass, also the decode check), merge.py (the index), reader.py (lookups), plugin_hook.py
(what the mm plugin calls, with the root it holds), prune.py (old directories listed, deleted on request),
clip_list.py (every clip a run reads, the held-out split's included), disk.py (size, free space, the fit check).
"""

from frame_store.key import FORMAT_VERSION, StoreSettings, store_dir
from frame_store.reader import FrameStore, StoredClip, read_counts

__all__ = [
    "FORMAT_VERSION",
    "FrameStore",
    "StoreSettings",
    "StoredClip",
    "read_counts",
    "store_dir",
]
