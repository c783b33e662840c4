"""Bootstrap intervals' cost next to the scoring they accompany, on synthetic captions.

    python -m bench.bench_bootstrap                                   # 3,000 samples, 5 references, 1,000 resamples
    python -m bench.bench_bootstrap --samples 3000 --references 20    # MSR-VTT-like: 20 references per clip

Two systems (base and adapter, as with --compare-base) answer every sample. "scoring" is evaluation.metrics'
score_systems without the bootstrap (PTB tokenizer, BLEU, METEOR, ROUGE-L, CIDEr-D: pycocoevalcap, Java included);
"bootstrap" is what --bootstrap adds: per-sample statistics and every metric on each resample, for both systems.
Captions are lower-case words drawn from a Zipf-like vocabulary, so the tokenizer leaves them as they are.
Prints both times and their ratio.
"""

import argparse
import time

import numpy as np

from evaluation.bootstrap import ReferenceSet, SampleStatistics, resample_weights, resampled_metrics_of
from evaluation.metrics import score_systems


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

    from pycocoevalcap.rouge.rouge import Rouge

    gts = {key: refs[key] for key in sorted(refs)}
    systems = {name: {key: answers[key] for key in gts} for name, answers in systems.items()}
    tokenized = {name: {key: [answer] for key, answer in answers.items()} for name, answers in systems.items()}
    rouge = {name: Rouge().compute_score(gts, res)[1] for name, res in tokenized.items()}  # scoring already has these
    start = time.perf_counter()
    weights = resample_weights(len(gts), args.resamples)
    reference_set = ReferenceSet.build(list(gts.values()))
    statistics = {
        name: SampleStatistics.build(reference_set, list(answers.values()), rouge[name])
        for name, answers in systems.items()
    }
    values = resampled_metrics_of(statistics, weights)  # as evaluation.metrics.score_systems runs it
    bootstrap = time.perf_counter() - start

    print(f"{args.samples} samples x {args.references} references, 2 systems, {args.resamples} resamples")
    print(f"scoring (pycocoevalcap, Java included): {scoring:.1f} s")
    print(f"bootstrap (statistics + resamples):      {bootstrap:.1f} s")
    print(f"ratio: {bootstrap / scoring:.1%} of the scoring time")
    cider = values["adapter"]["cider"]
    print(f"adapter CIDEr-D {scored.scores['adapter']['cider']:.4f}, resampled mean {cider.mean():.4f}")


if __name__ == "__main__":
    main()
