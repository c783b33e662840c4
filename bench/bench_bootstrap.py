"""Bootstrap intervals' cost next to the scoring they accompany, on synthetic captions.

    python -m bench.bench_bootstrap                                   # 3,000 samples, 5 references, 1,000 resamples
    python -m bench.bench_bootstrap --samples 3000 --references 20    # MSR-VTT-like: 20 references per clip

Two systems (base and adapter, as with --compare-base) answer every sample. "scoring" is evaluation.metrics'
score_systems without the bootstrap (PTB tokenizer, BLEU, METEOR, ROUGE-L, CIDEr-D: pycocoevalcap, Java included);
"bootstrap" is what --bootstrap adds, for both systems: per-sample statistics and BLEU, ROUGE-L and CIDEr-D on each
resample (numpy), and METEOR on each resample (the summed METEOR statistics sent to the METEOR JVM). METEOR's
per-sample statistics are what scoring already reads from the JVM; the bench collects them on a second JVM, untimed.
Captions are lower-case words drawn from a Zipf-like vocabulary, so the tokenizer leaves them as they are.
Prints the times and the bootstrap's share of the scoring time.
"""

import argparse
import time

import numpy as np

from evaluation.bootstrap import ReferenceSet, SampleStatistics, resample_weights, resampled_metrics_of
from evaluation.bootstrap_meteor import meteor_statistics, resampled_meteor
from evaluation.metrics import java_on_path, score_systems, stop_meteor


def synthetic_set(samples: int, references: int, seed: int = 0):
    """(references, systems): sample id -> captions of 6-16 words; "base" and "adapter" answers."""
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(5000)]
    probability = 1 / np.arange(1, len(vocabulary) + 1)
    probability /= probability.sum()

    def caption(topic):
        words = rng.choice(vocabulary, size=int(rng.integers(6, 17)), p=probability)
        keep = rng.random(len(words)) < 0.5  # half of the words come from the sample's own topic words
        return " ".join(np.where(keep, rng.choice(topic, size=len(words)), words))

    refs, base, adapter = {}, {}, {}
    for i in range(samples):
        topic = rng.choice(vocabulary, size=8, p=probability)
        key = f"s{i:05d}"
        refs[key] = [caption(topic) for _ in range(references)]
        base[key], adapter[key] = caption(topic), caption(topic)
    return refs, {"base": base, "adapter": adapter}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--references", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    refs, systems = synthetic_set(args.samples, args.references)

    start = time.perf_counter()
    scored = score_systems(refs, systems, resamples=0)
    scoring = time.perf_counter() - start

    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge

    gts = {key: refs[key] for key in sorted(refs)}
    systems = {name: {key: answers[key] for key in gts} for name, answers in systems.items()}
    tokenized = {name: {key: [answer] for key, answer in answers.items()} for name, answers in systems.items()}
    rouge = {name: Rouge().compute_score(gts, res)[1] for name, res in tokenized.items()}  # scoring already has these
    with java_on_path():
        meteor = Meteor()
    try:
        meteor_stats = {}  # scoring already has these too (its own SCORE lines)
        for name, res in tokenized.items():
            score, per_sample = meteor_statistics(meteor, gts, res)
            if score != scored.scores[name]["meteor"]:  # the tokenizer changed the synthetic captions
                raise SystemExit(f"{name}: METEOR {score} here, {scored.scores[name]['meteor']} in scoring")
            meteor_stats[name] = np.stack([per_sample[key] for key in gts])

        start = time.perf_counter()
        weights = resample_weights(len(gts), args.resamples)
        reference_set = ReferenceSet.build(list(gts.values()))
        statistics = {
            name: SampleStatistics.build(reference_set, list(answers.values()), rouge[name])
            for name, answers in systems.items()
        }
        values = resampled_metrics_of(statistics, weights)  # as evaluation.metrics.score_systems runs it
        numpy_part = time.perf_counter() - start
        start = time.perf_counter()
        for name, per_sample in meteor_stats.items():
            values[name]["meteor"] = resampled_meteor(meteor, per_sample, weights)
        meteor_part = time.perf_counter() - start
    finally:
        stop_meteor(meteor)
    bootstrap = numpy_part + meteor_part

    print(f"{args.samples} samples x {args.references} references, 2 systems, {args.resamples} resamples")
    print(f"scoring (pycocoevalcap, Java included): {scoring:.1f} s")
    print(f"bootstrap, BLEU/ROUGE-L/CIDEr-D (numpy): {numpy_part:.1f} s")
    print(f"bootstrap, METEOR (JVM):                 {meteor_part:.1f} s")
    print(f"ratio: {bootstrap / scoring:.1%} of the scoring time ({bootstrap:.1f} s)")
    for key in ("cider", "meteor"):
        print(f"adapter {key} {scored.scores['adapter'][key]:.4f}, resampled mean {values['adapter'][key].mean():.4f}")


if __name__ == "__main__":
    main()
