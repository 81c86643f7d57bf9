"""What every preset is made of (``experiments/__init__.py`` re-exports it): the
:class:`Experiment` and its registry (:func:`register`, :func:`selection` by tier), the
entries of claims.json (:func:`claim`, :func:`stat`, :func:`describe`, :func:`tally`),
differences.json (:func:`difference`) and questions.json (:func:`question`), and
:func:`run_all`, which trains the missing runs of some presets and analyses them. The
preset modules import from here, never from the package, so the package imports them
without a cycle.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
    differences: Callable | None = None  # (claims, out: Path) -> list[difference(...)]
    variant_seeds: dict[str, int] = field(default_factory=dict)  # label -> fewer seeds (a cheap control variant)
    questions: Callable | None = None  # (claims, out: Path) -> list[question(...)]
    tier: str = "core"  # "core": in reproduce all; "extended": only in reproduce extended

    def config(self, label: str, seed: int) -> Config:
        over = self.base | self.variants[label] | {"seed": seed}
        return resolve(apply_overrides(Config(), over), explicit=set(over))

    def jobs(self, out: Path, seeds: int | None = None):
        n = seeds or self.seeds
        for label in self.variants:
            for s in range(min(n, self.variant_seeds.get(label, n))):
                yield self.config(label, s), out / self.name / "runs" / label / f"seed{s}"


TIERS = ("core", "extended")


def register(exp: Experiment) -> Experiment:
    if exp.tier not in TIERS:
        raise ValueError(f"experiment {exp.name}: tier {exp.tier!r}, allowed {TIERS}")
    REGISTRY[exp.name] = exp
    return exp


def selection(name: str) -> list[Experiment]:
    """The presets ``reproduce NAME`` runs: ``all`` the core tier, ``extended`` every preset,
    else the one preset (KeyError if not registered)."""
    if name == "all":
        return [e for e in REGISTRY.values() if e.tier == "core"]
    if name == "extended":
        return list(REGISTRY.values())
    return [REGISTRY[name]]


# ---- claims ------------------------------------------------------------------------
def is_identity(c: dict) -> bool:
    return c.get("kind") == "identity"


def counted(claims: list[dict]) -> list[dict]:
    """The claims that count in "claims hold": measurements (not identities) that were
    tested (``holds`` not None)."""
    return [c for c in claims if not is_identity(c) and c.get("holds") is not None]


def tally(claims: list[dict]) -> str:
    """'64/81 claims hold · 3 identities checked (3 ok) · 1 not tested'."""
    n = counted(claims)
    out = f"{sum(c['holds'] is True for c in n)}/{len(n)} claims hold"
    ids = [c for c in claims if is_identity(c)]
    if ids:
        out += f" · {len(ids)} identit{'y' if len(ids) == 1 else 'ies'} checked ({sum(c.get('holds') is True for c in ids)} ok)"
    untested = sum(c.get("holds") is None for c in claims if not is_identity(c))
    return out + (f" · {untested} not tested" if untested else "")


def stat(values) -> dict:
    """Mean, spread and range over seeds. ``None`` (or inf) means "never happened" (e.g.
    the optimum was never reached): such seeds are counted in ``n_never`` and left out
    of the numbers, which are ``null`` when no seed has one. Output is strict JSON."""
    v = np.asarray([np.inf if x is None else x for x in values], dtype=float)
    ok = v[np.isfinite(v)]
    num = (lambda f: float(f(ok)) if len(ok) else None)  # noqa: E731
    out = {"mean": num(np.mean), "std": num(np.std), "min": num(np.min), "max": num(np.max), "n_seeds": int(len(v))}
    return out | ({"n_never": int(len(v) - len(ok))} if len(ok) < len(v) else {})


KINDS = ("claim", "identity")


def claim(id: str, text: str, paper: str, measured: dict, holds: bool | None, criterion: str,
          kind: str = "claim") -> dict:
    """One entry of claims.json. ``holds`` is computed from measurements; ``None`` means
    "not tested" (the run that would test it did not exercise it, e.g. nothing trained
    under that reading), shown as such and not counted as held or failed.

    ``kind="identity"``: a check that compares one formula with another (e.g. the
    general-chain OPT against max(p, 1 − p)). It is a test, not a measurement of the
    paper's claim: the report shows it apart and keeps it out of the "claims hold" count.
    """
    if kind not in KINDS:
        raise ValueError(f"claim kind {kind!r}: allowed {KINDS}")
    out = {"id": id, "claim": text, "paper": paper, "measured": measured,
           "holds": None if holds is None else bool(holds), "criterion": criterion}
    return out | ({"kind": kind} if kind != "claim" else {})


def describe(s: dict, digits: int = 3) -> str:
    """One line for a :func:`stat`: ``0.505 ± 0.013 (0.490–0.530, 10 seeds)``, with
    ``digits`` significant digits on the mean (integers stay integers); seeds for which
    it never happened are counted. A spread below the mean's last shown digit is not
    printed as ``± 4.8e-16``: ``0.5446 (all 20 seeds within 2e-15)``."""
    never, n = s.get("n_never", 0), s["n_seeds"]
    if s.get("mean") is None:
        return f"never ({never}/{n} seeds)"
    m = abs(s["mean"])
    dec = 0 if m >= 10 ** (digits - 1) else max(0, digits - 1 - (int(np.floor(np.log10(m))) if m > 0 else 0))
    sci = 0 < m < 1e-3
    if s["std"]:  # show the spread with two significant digits (up to 4 decimals)
        dec = max(dec, min(4, 1 - int(np.floor(np.log10(s["std"])))))

    def f(x):
        if float(x).is_integer() and s["min"] == s["max"]:
            return str(int(x))
        return f"{x:.{digits - 1}e}" if sci else f"{x:.{dec}f}"

    tail = f"; never in {never}" if never else ""
    if s["min"] == s["max"]:
        return f"{f(s['mean'])} in all {n - never} seeds{tail}" if n - never > 1 else f"{f(s['mean'])} (1 seed{tail})"
    if not (sci or round(s["std"], dec)):  # a spread below the last shown digit (round-off): no "± 4.8e-16"
        return f"{f(s['mean'])} (all {n - never} seeds within {s['max'] - s['min']:.0e}){tail}"
    sd = f(s["std"])
    dash = " to " if s["min"] < 0 else "–"  # "-0.14 to -0.07", not "-0.14–-0.07"
    return f"{f(s['mean'])} ± {sd} ({f(s['min'])}{dash}{f(s['max'])}, {n - never} seeds{tail})"


def difference(id: str, title: str, paper: str, ours: str, control: str, claims: tuple = ()) -> dict:
    """One "where we differ" entry: what the paper says, what we measured and the
    controlled experiment that explains it (both computed from measured numbers). It is
    a difference while any of ``claims`` (ids in the same claims.json) fails; without
    ``claims`` it is a note on how we read the paper."""
    return {"id": id, "title": title, "paper": paper, "ours": ours, "control": control, "claims": list(claims)}


def question(id: str, reviewer: str, asked: str, authors: str, ours: str, claims: tuple = ()) -> dict:
    """One reviewer's question a preset answers, for the front page's "The reviewers'
    questions": ``asked`` (the reviewer's words, quoted briefly), ``authors`` (their answer,
    quoted), ``ours`` (one or two sentences computed from the measured numbers) and
    ``claims``, the ids in the same claims.json that test the authors' answer. The report
    computes "agrees" from those claims' ``holds`` (all hold: agrees; all fail: differs;
    some: partly), never from this entry."""
    if not claims:
        raise ValueError(f"question {id!r}: name the claims that test the authors' answer")
    return {"id": id, "reviewer": reviewer, "asked": asked, "authors": authors, "ours": ours, "claims": list(claims)}


def load_claims(out: Path, name: str) -> dict[str, dict]:
    """Claims of another experiment under the same ``out`` (id -> claim; {} if not run)."""
    p = Path(out) / name / "claims.json"
    return {c["id"]: c for c in json.loads(p.read_text())} if p.exists() else {}


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
    model (``multirun``), in ``workers`` processes; each gets the numbers it gets alone.
    One reproduction at a time per ``out`` (``rundir.lock``); damaged run directories
    are set aside and trained again (``executors.execute``)."""
    from ..runs.rundir import lock

    with lock(out):
        return _run_all(exps, out, workers, seeds, quiet)


def _run_all(exps: list[Experiment], out: Path, workers: int, seeds: int | None, quiet: bool) -> dict[str, list[dict]]:
    jobs = [job for e in exps for job in e.jobs(out, seeds)]
    if jobs:  # the exact presets have none, and then need neither the executors nor torch
        from ..runs.executors import execute

        execute(jobs, workers=workers, quiet=quiet, desc="reproduce")
    claims = {}
    with one_thread():
        for e in exps:
            claims[e.name] = _analyse(e, out, seeds)
    return claims


@contextmanager
def one_thread():
    """torch on one thread while the presets analyse, restored afterwards: the analysis runs in
    the main process, which is otherwise at torch's default (a thread per core), and a preset
    that replays or fine-tunes small models there (rev-jumps, rev-bias) ran ~8× slower on a
    shared 2-core machine. Without torch imported (exact presets only) it does nothing."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _analyse(e: Experiment, out: Path, seeds: int | None) -> list[dict]:
    """Analyse one preset's finished runs; writes claims.json, differences.json, questions.json."""
    from ..runs.rundir import write_json

    runs = {label: [load_run(p) for c, p in e.jobs(out, seeds) if p.parent.name == label] for label in e.variants}
    d = out / e.name
    d.mkdir(parents=True, exist_ok=True)
    # --seeds reaches presets that draw their own seeds inside analyse (the exact canonical model)
    claims = e.analyse(runs, d, replace(e, seeds=seeds) if seeds and e.seeds else e)
    write_json(d / "claims.json", claims)
    if e.differences is not None:
        write_json(d / "differences.json", e.differences(claims, out))
    if e.questions is not None:
        write_json(d / "questions.json", e.questions(claims, out))
    return claims
