"""Our hand-written shards vs the container formats that could replace them, on the same entries.

    python -m bench.bench_store_formats                      # 400 entries of 8 frames at 224x224 (zlib), 3 rounds
    python -m bench.bench_store_formats --entries 1000 --rounds 5

Each format holds the same entries (the header JSON and zlib frame bytes frame_store/build.py writes): ours (one shard
data file, the merged index, read by frame_store.reader.FrameStore with its checksum check), Parquet (pyarrow, one
row per entry, row groups of 16), and a WebDataset-style tar (one member per entry, read at random through an
offset index as wids does, and in order as a WebDataset pipeline does). LMDB is measured only where the lmdb module
is installed. Prints write and read time per entry (random order, as a shuffled DataLoader reads) and bytes on disk.
Frames are a smooth gradient plus grain, which compresses about as real footage does (bench_frame_store measures
real clips; here only the container differs).
"""

import argparse
import io
import random
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from frame_store.build import write_settings
from frame_store.codec import decode, encode
from frame_store.key import ClipIdentity, StoreSettings, StoreTarget, store_dir
from frame_store.merge import merge_store
from frame_store.reader import FrameStore
from frame_store.shard import ShardWriter, pack_entry, unpack_entry

SHAPE = (8, 224, 224, 3)


def _entries(count: int) -> list[tuple[str, bytes]]:
    """(path, packed entry) pairs: header JSON + zlib frames, as the build writes them."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 200, SHAPE[2], dtype=np.float32)[None, None, :, None]
    entries = []
    for index in range(count):
        frames = np.clip(ramp + index % 50 + rng.normal(0, 6, SHAPE), 0, 255).astype(np.uint8)
        path = f"/clips/{index:07d}.mp4"  # not on disk: served without an identity check, as for moved clips
        header = {"path": path, "size": 0, "mtime_ns": 0, "sample": "", "codec": "zlib", "shape": list(SHAPE),
                  "metadata": {}, "results": {}}  # fmt: skip
        entries.append((path, pack_entry(header, encode("zlib", frames))))
    return entries


def _frames(entry: bytes | memoryview) -> np.ndarray:
    header, payload = unpack_entry(entry)
    return decode(header["codec"], payload, header["shape"])


def _ours(directory: Path, entries) -> tuple:
    """Write through ShardWriter and merge_store; read through FrameStore.get (index search, checksum, decode)."""
    settings = StoreSettings("bench", 8.0, 8, 224 * 224, 256)
    target = StoreTarget(store_dir(directory, settings), "bench", settings)
    write_settings(target)
    writer = ShardWriter(target.directory, 0, 1)
    for first in range(0, len(entries), 4):  # the build's in-process batch: fsync every 4 clips
        for path, entry in entries[first : first + 4]:
            writer.add(path, ClipIdentity(0, 0, ""), entry, None)
        writer.flush()
    writer.finish(len(entries))
    writer.close()
    merge_store(target.directory)
    store = FrameStore.open(target.directory)
    return (lambda path: store.get(path).frames), _bytes(target.directory)


def _parquet(directory: Path, entries) -> tuple:
    """One row per entry (path, entry bytes), row groups of 16; a read loads the row's group and decodes the row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = directory / "store.parquet"
    table = pa.table({"path": [p for p, _ in entries], "entry": [e for _, e in entries]})
    pq.write_table(table, path, row_group_size=16, compression="none")  # frames are zlib already
    where = {p: divmod(row, 16) for row, (p, _) in enumerate(entries)}
    source = pq.ParquetFile(path)

    def read(clip: str) -> np.ndarray:
        group, row = where[clip]
        column = source.read_row_group(group, columns=["entry"]).column("entry")
        return _frames(column[row].as_py())

    return read, path.stat().st_size


def _tar(directory: Path, entries) -> tuple:
    """WebDataset layout (one member per entry); random reads through an offset index, as wids does."""
    path = directory / "store-000000.tar"
    with tarfile.open(path, "w") as archive:
        for clip, entry in entries:
            info = tarfile.TarInfo(f"{Path(clip).stem}.entry")
            info.size = len(entry)
            archive.addfile(info, io.BytesIO(entry))
    with tarfile.open(path) as archive:
        offsets = {f"/clips/{m.name.split('.')[0]}.mp4": (m.offset_data, m.size) for m in archive.getmembers()}
    handle = open(path, "rb")  # noqa: SIM115 - open for the benchmark's reads

    def read(clip: str) -> np.ndarray:
        offset, size = offsets[clip]
        handle.seek(offset)
        return _frames(handle.read(size))

    return read, path.stat().st_size


def _lmdb(directory: Path, entries) -> tuple | None:
    """One key per entry, one write transaction per 4 entries (as our fsync batches); None where lmdb is missing."""
    try:
        import lmdb
    except ImportError:
        return None
    environment = lmdb.open(str(directory / "store.lmdb"), map_size=1 << 36)
    for first in range(0, len(entries), 4):
        with environment.begin(write=True) as transaction:
            for clip, entry in entries[first : first + 4]:
                transaction.put(clip.encode(), entry)

    def read(clip: str) -> np.ndarray:
        with environment.begin(buffers=True) as transaction:
            return _frames(transaction.get(clip.encode()))

    return read, _bytes(directory / "store.lmdb")


def _bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


FORMATS = {"ours (shards + index)": _ours, "parquet (row groups of 16)": _parquet, "tar (WebDataset, indexed)": _tar,
           "lmdb": _lmdb}  # fmt: skip


def run(count: int, rounds: int) -> list[dict]:
    """Write and read ``count`` entries in each format; one row per format."""
    entries = _entries(count)
    order = [clip for clip, _ in entries]
    random.Random(0).shuffle(order)
    expected = _frames(entries[0][1])
    rows = []
    for name, make in FORMATS.items():
        with tempfile.TemporaryDirectory() as directory:
            start = time.perf_counter()
            made = make(Path(directory), entries)
            if made is None:
                rows.append({"format": name, "missing": True})
                continue
            write_s = time.perf_counter() - start
            read, size = made
            assert np.array_equal(read(entries[0][0]), expected)
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                for clip in order:
                    read(clip)
                times.append((time.perf_counter() - start) / count)
            rows.append({"format": name, "write_ms": 1e3 * write_s / count, "read_ms": 1e3 * statistics.median(times),
                         "bytes_per_entry": size / count})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.bench_store_formats [--entries N] [--rounds R]`: prints one line per format."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=400, help="entries of 8 frames at 224x224")
    parser.add_argument("--rounds", type=int, default=3, help="random-order read passes (median reported)")
    args = parser.parse_args(argv)
    print(f"{args.entries} entries of {SHAPE} uint8 (zlib), random-order reads, median of {args.rounds} passes")
    for row in run(args.entries, args.rounds):
        if row.get("missing"):
            print(f"  {row['format']:<28} not installed here (pip install lmdb to measure)")
            continue
        print(f"  {row['format']:<28} write {row['write_ms']:6.2f} ms/entry  read {row['read_ms']:6.2f} ms/entry  "
              f"{row['bytes_per_entry'] / 1e3:8.1f} kB/entry")  # fmt: skip
    print("every read includes the header parse and the zlib decompression of the frames; ours also the checksum")


if __name__ == "__main__":
    main()
