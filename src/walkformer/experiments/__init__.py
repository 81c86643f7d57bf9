"""Named reproductions: one preset per paper figure, run over several seeds.

An :class:`Experiment` is a set of variants (a label and its config overrides), each
run for ``seeds`` seeds, and an ``analyse`` function that turns the finished runs into
the paper-style figures and ``claims.json``: a list of
``{"id", "claim", "paper", "measured", "holds"}`` whose ``holds`` is computed from the
measured numbers.

Layout of ``walkformer reproduce NAME --out DIR``::

    DIR/NAME/claims.json, DIR/NAME/*.png, DIR/NAME/runs/<variant>/seed<k>/...

Runs already finished (their ``summary.json`` exists) are not run again, so an
interrupted reproduction resumes where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import Config, apply_overrides, resolve

REGISTRY: dict[str, "Experiment"] = {}


@dataclass
class Experiment:
    name: str
    figure: str  # which figure(s) of which paper
    title: str
    variants: dict[str, dict]  # label -> overrides
    analyse: Callable  # (runs: dict[label, list[run]], out: Path, exp) -> list[claim]
    seeds: int = 10
    base: dict = field(default_factory=dict)

    def config(self, label: str, seed: int) -> Config:
        over = self.base | self.variants[label] | {"seed": seed}
        return resolve(apply_overrides(Config(), over), explicit=set(over))

    def jobs(self, out: Path, seeds: int | None = None):
        for label in self.variants:
            for s in range(seeds or self.seeds):
                yield self.config(label, s), out / self.name / "runs" / label / f"seed{s}"


def register(exp: Experiment) -> Experiment:
    REGISTRY[exp.name] = exp
    return exp


# ---- claims ------------------------------------------------------------------------
def stat(values) -> dict:
    """Mean, spread and range over seeds. ``None`` (or inf) means "never happened" (e.g.
    the optimum was never reached): such seeds are counted in ``n_never`` and left out
    of the numbers, which are ``null`` when no seed has one. Output is strict JSON."""
    v = np.asarray([np.inf if x is None else x for x in values], dtype=float)
    ok = v[np.isfinite(v)]
    num = (lambda f: float(f(ok)) if len(ok) else None)  # noqa: E731
    out = {"mean": num(np.mean), "std": num(np.std), "min": num(np.min), "max": num(np.max), "n_seeds": int(len(v))}
    return out | ({"n_never": int(len(v) - len(ok))} if len(ok) < len(v) else {})


def claim(id: str, text: str, paper: str, measured: dict, holds: bool, criterion: str) -> dict:
    return {"id": id, "claim": text, "paper": paper, "measured": measured, "holds": bool(holds),
            "criterion": criterion}


# ---- running -----------------------------------------------------------------------
def load_run(path: Path) -> dict:
    summary = json.loads((path / "summary.json").read_text())
    metrics = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    cfg = json.loads((path / "config.json").read_text())
    return {"summary": summary, "metrics": metrics, "config": cfg, "path": str(path)}


def run_all(exps: list[Experiment], out: Path, workers: int = 2, seeds: int | None = None,
            quiet: bool = False) -> dict[str, list[dict]]:
    """Run every missing job of ``exps``, then analyse each experiment. Compatible runs
    (same shapes: the seeds and variants of a preset) train together as one batched
    model (``multirun``), in ``workers`` processes; each gets the numbers it gets alone."""
    from ..executors import execute

    execute([job for e in exps for job in e.jobs(out, seeds)], workers=workers, quiet=quiet, desc="reproduce")
    from ..rundir import write_json

    claims = {}
    for e in exps:
        runs = {label: [load_run(p) for c, p in e.jobs(out, seeds) if p.parent.name == label] for label in e.variants}
        d = out / e.name
        d.mkdir(parents=True, exist_ok=True)
        claims[e.name] = e.analyse(runs, d, e)
        write_json(d / "claims.json", claims[e.name])
    return claims


from . import randomwalk, beyond, phases  # noqa: E402,F401  (register the presets)
