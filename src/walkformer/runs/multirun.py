"""Train many runs in one process: group compatible configs, train each group as one
:class:`walkformer.models.batched.BatchedShiCao`, return one ``training.Result`` per run.

Two runs are *compatible* when every tensor shape and the step schedule agree
(:func:`shape_key`); they may differ in seed, p, σ, η, ε, init scheme. Each run gets
the numbers ``loop.run`` gives it alone: same seeded streams, same data, the same
per-step arithmetic up to the order of some sums (tested to 1e-6 in float64), same
metrics and summary, and its own failure (a non-finite loss stops that run only).

Runs that also share their data (same ``seed`` and data keys, differing in
``init.seed``, σ, η, ε ...: a study of random initialisations) and all start from a
random initialisation are batched together and train on one copy of the data, with the
token passes as sparse products (``Batches(shared=True)``; see ``models/batched.py``).

The binary Markov-chain ``gpt`` model has its own shape key and group trainer in
``multirun_gpt.py`` (dispatched below). To add a model family: give it a batched
class with ``grads(batches, eps) -> (losses (R,), grads)``, ``forward`` and ``single(r)``,
extend :func:`shape_key` with its shape-determining keys, and dispatch on
``model.name`` in :func:`train_group`; the sweep layer only sees ``train_all``.
"""

from __future__ import annotations

import math
import time
import traceback

import torch

from ..config import Config, logged
from ..failures import CRASHED, at_step
from ..metrics import evaluate_many, truths
from ..models import build_model, geometry, initial_params
from ..models.batched import Batches, BatchedShiCao, load_state
from ..tasks import make_task
from ..paths import acceleration
from ..loop import run
from ..training import (PARAM_BOUND, Result, _failure, datasets, generator, shicao_params, shicao_rate,
                    shicao_scale, summarise, torch_dtype, unbounded)

SHAPE_KEYS = ("task.name", "task.K", "task.N", "model.name", "model.pos", "model.M", "model.normalize",
              "model.head", "train.n_train", "train.data", "train.path", "train.steps", "eval.n_test",
              "eval.every", "eval.grid", "eval.per_decade", "eval.f_distance", "dtype")


def shape_key(cfg: Config) -> tuple:
    """Runs with equal keys train together. ``population`` data has a p-dependent number
    of paths and the relu head a hidden width, so those join the key."""
    from ..config import get

    path = acceleration(cfg)
    if path != "shi-cao" and path != "gpt":  # trained alone (the reference transformer, canonical)
        return (path or "reference",)
    if cfg.model.name == "gpt":  # binary chains: multirun_gpt.py
        from .multirun_gpt import GPT_SHAPE_KEYS

        return tuple(get(cfg, k) for k in GPT_SHAPE_KEYS)
    key = tuple(get(cfg, k) for k in SHAPE_KEYS)
    if cfg.model.head == "relu":
        key += (cfg.model.m,)
    if cfg.train.data == "population":
        key += (cfg.task.p,)
    return key


# Shared data pays only for many runs on one data set: measured (fig6's configuration, 16
# runs, 200 steps, one thread), groups of 2 sharing their data train 1.7x slower as 8
# batches than as one distinct-data batch of 16, groups of 4 about equal, 8 1.1x and
# 16 1.8x faster. Smaller groups join the distinct-data batch.
SHARE_MIN = 8
MAX_TOKENS = 50_000_000  # tokens per batch (R · B · (N-1)): a few (R, B, N-1) float64 temporaries fit in memory


def data_key(cfg: Config) -> tuple | None:
    """Runs with equal keys train on the same sequences and may share them (shared
    data, ``models/batched.py``): fixed data from one ``seed``, and a random
    initialisation (σ > 0), so that no model can sit at an exactly symmetric point,
    where only the exact token passes keep equal sums equal. None: not shareable."""
    if cfg.model.name != "shi-cao" or cfg.train.data != "fixed" or cfg.init.scheme != "gaussian" or cfg.init.sigma <= 0:
        return None
    return (cfg.seed, tuple(vars(cfg.task).values()), cfg.train.n_train, cfg.eval.n_test, cfg.dtype)


def plan(cfgs: list[Config], max_models: int = 64, min_chunks: int = 1) -> list[list[int]]:
    """Indices of ``cfgs`` in batches of compatible runs, at most ``max_models`` each (and
    at most ``MAX_TOKENS`` sampled tokens); a group is split into at least ``min_chunks``
    parts (to feed that many workers). Runs that can share their data (:func:`data_key`,
    ``SHARE_MIN`` or more) are batched among themselves."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(cfgs):
        groups.setdefault(shape_key(c), []).append(i)
    out = []
    for idx in groups.values():
        c = cfgs[idx[0]]
        per_model = max(c.train.batch, c.eval.n_test) * c.task.N * 4 * c.model.d if c.model.name == "gpt" else \
            max(c.train.n_train, c.eval.n_test) * (c.task.N - 1)
        cap = max(1, min(max_models, MAX_TOKENS // per_model))
        by_data: dict[tuple | None, list[int]] = {}
        for i in idx:
            by_data.setdefault(data_key(cfgs[i]), []).append(i)
        parts = [p for k, p in by_data.items() if k is not None and len(p) >= SHARE_MIN]
        rest = sorted(i for k, p in by_data.items() if k is None or len(p) < SHARE_MIN for i in p)
        for part in parts + ([rest] if rest else []):
            n = max(math.ceil(len(part) / cap), min(min_chunks, len(part)))
            size = math.ceil(len(part) / n)
            out += [part[i : i + size] for i in range(0, len(part), size)]
    return out


class Trained:
    """A trained single model. ``tensors(dense=False)`` (what reproductions and sweeps
    save) comes from the batch's copy, which lacks W0; anything else rebuilds the full
    :class:`ShiCao` on first access, re-drawing W0 ((D, D) per model, so not kept for
    all R models at once, and a (D, D) Gaussian draw that the saved factors do not need)."""

    def __init__(self, cfg: Config, task, light):
        self._args, self._light, self._model = (cfg, task), light, None

    def tensors(self, dense: bool = True) -> dict:
        return self._light.tensors(dense=False) if not dense else self._full().tensors()

    def _full(self):
        if self._model is None:
            (cfg, task), s = self._args, self._light
            m = build_model(cfg, task, generator(cfg.seed, "init"))  # re-draws the same W0
            self._model = load_state(m, s.V, s.A, m.W0q, s.c0, s.Rk, s.a)
        return self._model

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._full(), name)


DEVICES = ("auto", "cpu", "cuda")


def device_for(name: str) -> str:
    """``auto``: the GPU when torch sees one, else the CPU."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def train_group(cfgs: list[Config], keep_metrics: bool = True, device: str = "cpu") -> list[Result]:
    """Train compatible runs (equal :func:`shape_key`) as one batched model on ``device``
    (on a GPU the numbers agree with the CPU's to round-off, not bit for bit)."""
    c0 = cfgs[0]
    assert all(shape_key(c) == shape_key(c0) for c in cfgs), "train_group needs compatible configs"
    dtype, tr, R = torch_dtype(c0), c0.train, len(cfgs)
    shared = R > 1 and data_key(c0) is not None and all(data_key(c) == data_key(c0) for c in cfgs)
    tasks = [make_task(c) for c in cfgs]
    geo = geometry(c0, tasks[0])
    params = []
    for c in cfgs:  # one at a time: W0 is (D, D), training needs only W0 x̃_N
        p = initial_params(c, geo, generator(c.seed, "init"))
        W0 = p.pop("W0", None)
        params.append(p | {"W0q": W0 @ geo.q if W0 is not None else torch.zeros(geo.K + geo.M, dtype=dtype)})
    model = BatchedShiCao(geo, params, device)
    del params
    if shared:  # one data set for all
        sample, test_part = datasets(c0, tasks[0])
        streams = [(sample, test_part)] * R
        train, test = Batches([sample()] * R, device, shared=True), Batches([test_part] * R, device, shared=True)
    else:
        streams = [datasets(c, t) for c, t in zip(cfgs, tasks)]
        train = Batches([s() for s, _ in streams], device)
        test = Batches([t for _, t in streams], device)
    truth = truths(tasks, test)  # (R, B, K)
    eps_list = [c.train.eps for c in cfgs]
    eps = torch.tensor(eps_list, dtype=dtype, device=device)  # (R,)
    eta = torch.tensor([c.train.eta for c in cfgs], dtype=dtype, device=device)  # (R,)
    metrics, errors, why, last = [[] for _ in cfgs], [None] * R, [None] * R, [0] * R
    active = torch.ones(R, dtype=torch.bool, device=device)
    t0 = time.perf_counter()
    for step in range(tr.steps + 1):
        if tr.data == "online" and step > 0:
            train = Batches([s() for s, _ in streams], device)
        model.active = active
        loss, grads = model.grads(train, eps)  # (R,) losses at θ^(step)
        finite = torch.isfinite(loss)
        for g in grads.values():
            finite &= torch.isfinite(g).flatten(1).all(1)
        big = torch.stack([t.abs().flatten(1).amax(1) for t in shicao_params(model)
                           if t is not None]).amax(0)  # (R,) max |θ| (training.PARAM_BOUND)
        blown = finite & (big > PARAM_BOUND)
        due = logged(c0.eval, step, tr.steps)
        log = (active & (~finite | blown | due)).cpu()
        failed = torch.nonzero((active & ~finite).cpu()).flatten().tolist()
        if bool(log.any()):
            rows = torch.nonzero(log).flatten().tolist()
            ut, c = model.scores()
            lines = evaluate_many(tasks, test, model.forward(test), model.V, ut, c, eps, truth, rows,
                                  full=keep_metrics or step == tr.steps, directions=c0.eval.f_distance)
            losses = loss.tolist()
            for r in rows:
                metrics[r].append({"step": step, "train_loss": losses[r]} | lines[r])
        for r in failed:
            why[r], errors[r] = _failure(cfgs[r], model.single(r), train.parts[r], step, float(loss[r]))
            last[r] = step
        for r in torch.nonzero((active & blown).cpu()).flatten().tolist():
            why[r], last[r] = at_step(step), step
            errors[r] = unbounded(step, float(loss[r]), float(big[r]), shicao_rate(cfgs[r]), shicao_scale(cfgs[r]))
        active = active & finite & ~blown
        if step == tr.steps:
            break
        model.step(grads, eta, active)
    for r in torch.nonzero(active.cpu()).flatten().tolist():
        last[r] = tr.steps
    seconds = (time.perf_counter() - t0) / R  # each run's share of the batch
    out = []
    for r, (c, t) in enumerate(zip(cfgs, tasks)):
        out.append(Result(c, summarise(c, t, metrics[r], last[r], seconds, errors[r], why[r]), metrics[r],
                          Trained(c, t, model.single(r)), t, errors[r]))  # CPU copies
    return out


def crashed(cfg: Config, exc: BaseException) -> Result:
    """A run that raised (a bad combination found only at run time): no model, its error;
    status ``error``, failure ``crashed`` (``failures.py``)."""
    msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return Result(cfg, {"status": "error", "failure": CRASHED, "error": msg, "traceback": traceback.format_exc()},
                  [], None, None, msg)


def alone_is_faster(device: str) -> bool:
    """On the CPU with the C step (``models/shicao_kernel.py``) one Shi & Cao run at a time
    beats the batched torch operations: measured on six presets' configurations (same
    process, load ~5), the batch took 1.3x (phase-p-sigma: 50 steps, a (D, D) W0 draw per
    run) to 2.3x (fig8) the time of the same runs alone. The batch remains the GPU path
    and the CPU fallback without a compiler."""
    from ..ops import shicao_kernel

    return device_for(device) == "cpu" and shicao_kernel.usable(torch.float64)


def train_all(cfgs: list[Config], keep_metrics: bool = True, max_models: int = 64,
              device: str = "cpu", on_result=None) -> list[Result]:
    """Results of ``cfgs`` in order, batched where that is faster (``alone_is_faster``).
    The dense ``autograd`` path trains alone; a batch that raises is retried one run at a
    time so that only the runs that really fail are recorded as errors.

    ``on_result(i, result)`` is called as soon as run ``i`` is trained: after each run
    trained alone, after each batched group (its runs train in lockstep), so that a
    caller can save it before the next one starts."""
    results: list[Result | None] = [None] * len(cfgs)

    def finished(i: int, r: Result) -> None:
        results[i] = r
        if on_result is not None:
            on_result(i, r)

    for idx in plan(cfgs, max_models):
        group = [cfgs[i] for i in idx]
        done = None  # None: one at a time, below
        try:
            path = acceleration(group[0])
            if path == "gpt":
                from .multirun_gpt import train_gpt_group

                done = train_gpt_group(group, keep_metrics, device_for(device))
            elif group[0].train.path == "fast" and path == "shi-cao" and not alone_is_faster(device):
                done = train_group(group, keep_metrics, device_for(device))
        except Exception:  # noqa: BLE001  (retried below, run by run)
            done = None
        if done is not None:
            for i, r in zip(idx, done):
                finished(i, r)
            continue
        for i, c in zip(idx, group):
            try:
                r = run(c, keep_metrics=keep_metrics)
            except Exception as e:  # noqa: BLE001
                r = crashed(c, e)
            finished(i, r)
    return results
