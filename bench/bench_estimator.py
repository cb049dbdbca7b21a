"""Latency of the difficulty estimator per prompt (p50/p99 for a ~2,000-token prompt) and its memory.

    .venv/bin/python bench/bench_estimator.py [--runs 500]

Goal: learned estimator under 5 ms p50 on a 2,000-token prompt (it sits on the request path).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc

from app.quality.estimator import ARTIFACT_PATH, LearnedEstimator, RulesEstimator

_WORDS = (
    "the", "train", "leaves", "at", "noon", "and", "travels", "60", "miles", "per", "hour",
    "while", "a", "second", "train", "departs", "later", "how", "many", "hours", "does", "it",
    "take", "if", "each", "ticket", "costs", "$12", "and", "half", "of", "the", "seats", "are",
    "sold", "which", "of", "the", "following", "statements", "about", "the", "enzyme", "is",
    "correct", "given", "the", "patient", "history",
)


def prompt_of(tokens: int, seed: int, *, options: bool = True) -> str:
    """A mixed word/number prompt of about `tokens` tokens (one word or number each).

    With answer options it goes to the estimator's 'choice' model, without to its 'open' model.
    """
    rng = random.Random(seed)
    words = [str(rng.randint(1, 999)) if rng.random() < 0.1 else rng.choice(_WORDS) for _ in range(tokens)]
    return " ".join(words) + ("?\nA. 12\nB. 24\nC. 36\nD. 48\nAnswer:" if options else "?")


def latencies_ms(score: object, prompts: list[str]) -> list[float]:
    fn = score.strong_win_rate  # type: ignore[attr-defined]
    out = []
    for p in prompts:
        t0 = time.perf_counter()
        fn(p)
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()

    loads = []
    for _ in range(5):  # timed without tracemalloc, which slows the parse several times over
        gc.collect()
        t0 = time.perf_counter()
        LearnedEstimator.from_file(ARTIFACT_PATH)
        loads.append((time.perf_counter() - t0) * 1000)
    load_ms = statistics.median(loads)
    gc.collect()
    tracemalloc.start()
    learned = LearnedEstimator.from_file(ARTIFACT_PATH)
    resident, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"artifact {ARTIFACT_PATH.stat().st_size / 1e6:.2f} MB on disk; "
          f"load {load_ms:.0f} ms (median of 5); "
          f"{resident / 1e6:.1f} MB held in memory (peak {peak / 1e6:.1f} MB while loading)")

    for tokens, options in ((2000, True), (2000, False), (300, True)):
        prompts = [prompt_of(tokens, seed, options=options) for seed in range(args.runs)]
        kind = "with options" if options else "open"
        for est in (learned, RulesEstimator()):
            latencies_ms(est, prompts[:20])  # warm up
            lat = latencies_ms(est, prompts)
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(f"{est.name:<8} {tokens:>5}-token prompt ({kind:<12}): "
                  f"p50 {statistics.median(lat):.2f} ms, p99 {p99:.2f} ms ({len(lat)} runs)")

    prompt = prompt_of(2000, 0)
    tracemalloc.start()
    learned.strong_win_rate(prompt)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak extra memory scoring one 2,000-token prompt: {peak / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
