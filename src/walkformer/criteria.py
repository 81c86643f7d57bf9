"""When a run counts as having reached its target: torch-free, so the exact (analytic)
presets and ``walkformer report`` can use them without importing torch.

- Shi & Cao: test accuracy within three binomial standard deviations of OPT;
- binary chains: loss within ``BIGRAM_TOL`` nats of the bigram (Bayes) loss.

A run reaches a target at the first logged step from which it stays there: a curve that
touches OPT and leaves again has not reached it.
"""

from __future__ import annotations

import math
from typing import Iterable

BIGRAM_TOL = 0.01  # "reached the bigram loss": test loss within this of it (nats)


def settled(steps_ok: Iterable[tuple[int, bool]]) -> int | None:
    """First step of the final unbroken run of ``ok`` steps (None if the last is not ok)."""
    first = None
    for step, ok in steps_ok:
        first = (step if first is None else first) if ok else None
    return first


def tolerance(opt: float, n_test: int) -> float:
    """Three binomial standard deviations of an accuracy measured on n_test sequences
    (with a floor of one sequence, so OPT = 1 tolerates nothing but rounding)."""
    return max(3.0 * math.sqrt(opt * (1.0 - opt) / n_test), 1.0 / n_test)


def steps_to_optimal(metrics: list, opt: float, n_test: int) -> int | None:
    """First logged step from which test accuracy stays within ``tolerance`` of OPT."""
    tol = tolerance(opt, n_test)
    return settled((m["step"], m["test_accuracy"] >= opt - tol) for m in metrics)


def steps_to_bigram(excess: list[tuple[int, float]], tol: float = BIGRAM_TOL) -> int | None:
    """First logged step from which the excess loss over the Bayes predictor stays <= tol;
    ``excess`` is [(step, excess)] (gpt: ``kl``; canonical: exact loss − bigram)."""
    return settled((step, x is not None and x <= tol) for step, x in excess)
