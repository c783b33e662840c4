"""METEOR 1.5 on bootstrap resamples, exactly as pycocoevalcap computes it on the resampled set, by the same JVM.

    from pycocoevalcap.meteor.meteor import Meteor
    meteor = Meteor()                                       # the -stdio JVM that scores the set
    score, stats = meteor_statistics(meteor, gts, res)      # pycocoevalcap's compute_score value; id -> statistics
    values = resampled_meteor(meteor, np.stack([stats[key] for key in ids]), weights)  # one score per resample

pycocoevalcap's ``Meteor.compute_score`` sends ``SCORE ||| refs ||| hyp`` per sample; the JVM answers with the
sample's statistics (edu.cmu.meteor.scorer.MeteorStats, 23 numbers: test and reference lengths and function words,
test/reference content/function matches for each of the 4 stages, chunks, test and reference word matches). It then
sends ``EVAL ||| stats_1 ||| ... ||| stats_n`` and reads n sample scores and the corpus score, which the JVM computes
from the SUM of the samples' statistics (MeteorStats.addStats), with one exception: a sample matched completely in one
chunk adds no chunk (its fragmentation is 0). So the corpus METEOR of a resample with weights w (sample i drawn w_i
times) is the score of ``w @ aggregable statistics`` (that exception applied per sample). The JVM's ``SING |||
stats`` command scores one statistics line as it is; each resample's summed line is sent through it, in blocks.

The statistics are whole counts printed as Java doubles (``6.0``); their weighted sums are exact in float64 and are
sent in Python's round-trip ``repr`` (``12.0``), which Java's Scanner.nextDouble parses back to the same double.
"""

import contextlib
from collections.abc import Mapping, Sequence

import numpy as np

STATS_LENGTH = 23  # MeteorStats.toString: the numbers of one statistics line
LENGTHS = slice(0, 2)  # test length, reference length
TEST_MATCHES = slice(4, 20, 2)  # per stage: test content, (reference content), test function, (reference function)
REFERENCE_MATCHES = slice(5, 20, 2)
CHUNKS = 20
# SING lines per write: the JVM answers each with one number (~20 bytes), so a block's answers (~20 KB) fit in the
# pipe's buffer while this process is still writing the block; a larger block could leave both sides waiting.
BLOCK = 1000


class MeteorProcessError(RuntimeError):
    """The METEOR JVM stopped answering."""


def _exited(meteor) -> MeteorProcessError:
    """The JVM has exited (e.g. out of memory); it says why on stderr."""
    with contextlib.suppress(BrokenPipeError):  # closed now, so stopping it later does not flush into a dead pipe
        meteor.meteor_p.stdin.close()
    error = meteor.meteor_p.stderr.read().decode(errors="replace").strip()
    return MeteorProcessError(f"METEOR's Java process exited (code {meteor.meteor_p.wait()}): {error[-2000:]}")


def _write(meteor, text: str) -> None:
    try:
        meteor.meteor_p.stdin.write(text.encode())
        meteor.meteor_p.stdin.flush()
    except BrokenPipeError:
        raise _exited(meteor) from None


def _read(meteor) -> str:
    line = meteor.meteor_p.stdout.readline().decode().strip()
    if not line:  # the end of its output
        raise _exited(meteor)
    return line


def parse_statistics(line: str) -> np.ndarray:
    """One MeteorStats line (what ``SCORE`` prints) -> its 23 numbers."""
    values = np.array(line.split(), dtype=float)
    if len(values) != STATS_LENGTH:
        raise MeteorProcessError(f"METEOR answered {line!r} where {STATS_LENGTH} statistics were expected")
    return values


def meteor_statistics(
    meteor, gts: Mapping[str, Sequence[str]], res: Mapping[str, Sequence[str]]
) -> tuple[float, dict[str, np.ndarray]]:
    """(corpus METEOR, sample id -> its statistics): what ``meteor.compute_score(gts, res)`` does, line for line
    (same lines, same order, so the same score), keeping each sample's statistics. ``meteor``: a pycocoevalcap
    Meteor; ``gts``: id -> tokenized references; ``res``: id -> [tokenized answer]."""
    with meteor.lock:
        lines = {key: meteor._stat(res[key][0], gts[key]) for key in gts}  # pycocoevalcap's own SCORE line
        _write(meteor, "EVAL" + "".join(f" ||| {line}" for line in lines.values()) + "\n")
        for _ in lines:  # each sample's own score, which the bootstrap does not need
            _read(meteor)
        score = float(_read(meteor))
    return score, {key: parse_statistics(line) for key, line in lines.items()}


def aggregable(statistics: np.ndarray) -> np.ndarray:
    """samples x 23 statistics as MeteorStats.addStats adds them: a sample whose every test and reference word is
    matched, in one chunk, adds no chunk."""
    test_matched = statistics[:, TEST_MATCHES].sum(axis=1) == statistics[:, LENGTHS][:, 0]
    reference_matched = statistics[:, REFERENCE_MATCHES].sum(axis=1) == statistics[:, LENGTHS][:, 1]
    one_chunk = test_matched & reference_matched & (statistics[:, CHUNKS] == 1)
    added = statistics.copy()
    added[one_chunk, CHUNKS] = 0.0
    return added


def resampled_meteor(meteor, statistics: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Corpus METEOR on each resample: ``statistics`` (samples x 23, meteor_statistics' in the order of the columns
    of ``weights``), ``weights`` (resamples x samples, evaluation.bootstrap.resample_weights); computed by the JVM
    of ``meteor`` (still running) from the summed statistics."""
    summed = weights @ aggregable(statistics)
    values = []
    with meteor.lock:
        for start in range(0, len(summed), BLOCK):
            block = summed[start : start + BLOCK].tolist()
            _write(meteor, "".join("SING ||| " + " ".join(map(repr, row)) + "\n" for row in block))
            values += [float(_read(meteor)) for _ in block]
    return np.asarray(values)
