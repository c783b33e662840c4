"""Deterministic train/val/test split by a hash of the videoid.

A clip's split depends on its videoid (and the salt) alone, never on row order or on which other rows exist,
so re-running the converter after adding rows never moves a clip from one split to another.
"""

import hashlib

SPLITS = ("train", "val", "test")
_HASH_SPACE = float(1 << 64)


def split_fraction(videoid: str, salt: str = "") -> float:
    """A stable number in [0, 1) for ``videoid``: the first 8 bytes of blake2b(salt:videoid)."""
    digest = hashlib.blake2b(f"{salt}:{videoid}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SPACE


def check_ratios(val_ratio: float, test_ratio: float) -> None:
    """Raise ValueError unless both ratios are in [0, 1] and leave room for training."""
    if not (0 <= val_ratio <= 1 and 0 <= test_ratio <= 1 and val_ratio + test_ratio < 1):
        raise ValueError(
            f"--val-ratio {val_ratio} and --test-ratio {test_ratio} must each be in [0, 1] and sum to less than 1"
        )


def assign_split(videoid: str, val_ratio: float, test_ratio: float, salt: str = "") -> str:
    """'val' for the first ``val_ratio`` of the hash space, then 'test', the rest 'train'."""
    fraction = split_fraction(videoid, salt)
    if fraction < val_ratio:
        return "val"
    if fraction < val_ratio + test_ratio:
        return "test"
    return "train"
