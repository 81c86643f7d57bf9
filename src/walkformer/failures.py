"""Why a run failed: the ``failure`` field of summary.json, and counting failed runs.

A run's ``status`` says whether it has results; ``failure`` says why not:

=========  ======================  ==================================================
status     failure                 meaning
=========  ======================  ==================================================
ok         null                    trained for ``train.steps`` steps
failed     ``undefined-at-init``   the loss (or its gradient) is not finite at the
                                   initial parameters θ^(0), before any step: for the
                                   Shi & Cao loss −log(e_yᵀf + ε), e_yᵀf + ε ≤ 0 on some
                                   training sequence. No learning rate can fix it; the
                                   cure is a smaller init.sigma or a larger train.eps.
failed     ``diverged``            finite at θ^(0), not finite at a later step: a step
                                   overshot (overflow, or e_yᵀf + ε ≤ 0 after the step).
error      ``crashed``             the run raised (``multirun.crashed``): no model.
=========  ======================  ==================================================

The messages that go with each (``error``) are written where the failure is found
(``training.py``, ``train_binary.py``, ``runs/multirun.py``). Summaries written before
``failure`` existed are read by :func:`of`, which infers it from the status and the
step. Aggregates over runs (``sweep.aggregate``, the presets' cells) use ``status ==
"ok"`` runs only and report the others by :func:`counts`.
"""

from __future__ import annotations

from collections import Counter

UNDEFINED_AT_INIT, DIVERGED, CRASHED = "undefined-at-init", "diverged", "crashed"
FAILURES = (UNDEFINED_AT_INIT, DIVERGED, CRASHED)
LABELS = {UNDEFINED_AT_INIT: "log-loss undefined at init", DIVERGED: "diverged", CRASHED: "crashed",
          "missing": "missing"}
SHORT = {UNDEFINED_AT_INIT: "undef. at init", DIVERGED: "div", CRASHED: "crash", "missing": "missing"}


def at_step(step: int) -> str:
    """The failure of a run whose loss is first non-finite at ``step`` (0 = θ^(0))."""
    return UNDEFINED_AT_INIT if step == 0 else DIVERGED


def run_status(step: int, seconds: float, error: str | None, failure: str | None = None) -> dict:
    """The fields every summary.json has on how its run ended: ``steps`` taken, ``seconds``,
    ``ms_per_step``, ``status``, ``failure`` (``failure``, or :func:`at_step`, when there is
    an ``error``; else None) and ``error``."""
    return {"steps": step, "seconds": seconds, "ms_per_step": 1e3 * seconds / max(step, 1),
            "status": "failed" if error else "ok", "failure": (failure or at_step(step)) if error else None,
            "error": error}


def of(summary: dict | None) -> str | None:
    """The failure of a run from its summary.json (None: the run is ok). A missing
    summary is ``missing``; summaries from before the field are inferred."""
    if summary is None:
        return "missing"
    status = summary.get("status")
    if status == "ok":
        return None
    if summary.get("failure"):
        return summary["failure"]
    if status == "failed":
        return at_step(summary.get("steps", 1))
    return CRASHED if status == "error" else status


def counts(failures) -> dict[str, int]:
    """{failure: number of runs} over an iterable of failures (None or NaN, as pandas
    reads a null: ok, not counted), in the order of :data:`FAILURES`."""
    c = Counter(f for f in failures if isinstance(f, str))
    return {k: c[k] for k in sorted(c, key=lambda k: (FAILURES + (k,)).index(k))}


def counts_text(c: dict[str, int], short: bool = False) -> str:
    """``9 log-loss undefined at init, 1 diverged`` ('' when nothing failed)."""
    names = SHORT if short else LABELS
    return ", ".join(f"{n} {names.get(k, k)}" for k, n in c.items() if n)
