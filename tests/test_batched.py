"""Many models in one batched model give the numbers each gives alone."""

import json
import math

import pytest
import torch

from walkformer.config import Config, apply_overrides, resolve
from walkformer.models import build_model
from walkformer.models.batched import Batches, BatchedShiCao
from walkformer.runs import multirun
from walkformer.runs.multirun import data_key, plan, shape_key, train_all
from walkformer.tasks import make_task
from walkformer.loop import run
from walkformer.training import datasets, generator

from conftest import numbers

SMALL = {"task.K": 5, "task.N": 12, "model.M": 30, "train.steps": 12, "train.n_train": 60, "eval.n_test": 60,
         "eval.every": 4}
# differing in p, σ, η, ε, seed and init scheme inside one shape group; the last one diverges.
# No shape has N = rK + 1: there p = 1 from zero init is Theorem 4.1's symmetric point, which
# sin positions leave only by round-off, so its outcome depends on the order of every sum
# (the batched path adds some in other orders); test_exact_symmetry_survives_batching
# covers that point with onehot positions, where it is exact.
VARY = [{"task.p": 0.5}, {"task.p": 0.7, "init.scheme": "gaussian", "init.sigma": 0.05, "seed": 1},
        {"task.p": 1.0, "train.eta": 2.0, "seed": 2}, {"task.p": 0.3, "train.eps": 0.05, "seed": 3},
        {"task.p": 0.9, "init.scheme": "gaussian", "init.sigma": 3.0, "seed": 1}]
SHAPES = [{}, {"model.pos": "onehot"}, {"model.normalize": True}, {"train.data": "online"},
          {"train.data": "population", "task.N": 7, "model.M": 20},
          {"model.head": "relu", "init.scheme": "gaussian", "init.sigma": 0.1}]


def cfg(over):
    return resolve(apply_overrides(Config(), over), set(over))


@pytest.fixture(autouse=True)
def batched(monkeypatch):
    """These tests are about the batched path: train_all must take it even where the C
    step makes one run at a time faster (test_train_all_alone_with_the_c_step)."""
    monkeypatch.setattr(multirun, "alone_is_faster", lambda device: False)


def test_train_all_alone_with_the_c_step(monkeypatch):
    """With the C step on the CPU, train_all trains Shi & Cao runs one at a time: each
    result is loop.run's, bit for bit, and no batch is built."""
    from walkformer.ops import shicao_kernel

    if not shicao_kernel.usable(torch.float64):
        pytest.skip("no C compiler: the batched path is the CPU path")
    monkeypatch.undo()
    assert multirun.alone_is_faster("cpu")
    monkeypatch.setattr(multirun, "train_group", lambda *a, **k: pytest.fail("batched"))
    cfgs = [cfg(SMALL | v) for v in VARY]
    for a, c in zip(train_all(cfgs), cfgs):
        b = run(c)
        same = lambda x: json.dumps({k: v for k, v in x.items() if k not in ("seconds", "ms_per_step")})  # noqa: E731 (NaN == NaN)
        assert [same(m) for m in a.metrics] == [same(m) for m in b.metrics] and a.error == b.error
        assert same(a.summary) == same(b.summary)


def max_diff(a, b):
    fa, fb = numbers(a), numbers(b)
    assert len(fa) == len(fb)
    worst = 0.0
    for x, y in zip(fa, fb):
        if isinstance(x, float) and isinstance(y, float):
            if not (math.isnan(x) and math.isnan(y)):
                worst = max(worst, abs(x - y))
        else:
            assert x == y
    return worst


def test_batched_equals_individual_runs_for_a_mixed_grid():
    # train.n_train does not apply with train.data=population (every path is the training set)
    cfgs = [cfg({k: x for k, x in (SMALL | s | v).items() if not (k == "train.n_train" and "train.data" in s
                                                                    and s["train.data"] == "population")})
            for s in SHAPES for v in VARY]
    batches = plan(cfgs)
    assert len(batches) < len(cfgs) and max(len(b) for b in batches) >= 5  # really batched
    together = train_all(cfgs)
    statuses = set()
    for c, a in zip(cfgs, together):
        alone = run(c)
        statuses.add(alone.summary["status"])
        assert a.summary["status"] == alone.summary["status"] and a.error == alone.error
        assert max_diff(a.summary, alone.summary) <= 1e-6
        assert max_diff(a.metrics, alone.metrics) <= 1e-6
        for name in ("V", "W", "R"):
            assert torch.allclose(getattr(a.model, name), getattr(alone.model, name), atol=1e-6, rtol=0)
    assert statuses == {"ok", "failed"}  # a diverging run fails alone, and does not disturb its batch


def test_exact_symmetry_survives_batching():
    """Theorem 4.1 (onehot, p = 1, N = rK+1): every model of a batch keeps spread 0."""
    base = SMALL | {"task.N": 11, "model.pos": "onehot", "task.p": 1.0}
    cfgs = [cfg(base | {"seed": s, "train.eta": eta}) for s in range(3) for eta in (0.5, 1.0)]
    assert len({shape_key(c) for c in cfgs}) == 1
    for r in train_all(cfgs):
        assert max(m["token_logit_spread"] for m in r.metrics) == 0.0


# one data set (seed 0), five random initialisations (init.seed) differing in σ, η, ε
SHARED = [{"init.seed": s, "init.scheme": "gaussian", "init.sigma": sig, "train.eta": eta, "train.eps": e}
          for s, sig, eta, e in [(0, 0.05, 1.0, 0.1), (1, 0.05, 1.0, 0.1), (2, 0.5, 2.0, 0.1), (3, 0.01, 0.5, 0.05),
                                 (4, 3.0, 1.0, 0.1)]]


def test_init_seed_changes_the_initialisation_only():
    a, b = cfg(SMALL | {"seed": 0}), cfg(SMALL | {"seed": 0, "init.seed": 3, "init.scheme": "gaussian"})
    c = cfg(SMALL | {"seed": 3, "init.scheme": "gaussian"})
    assert torch.equal(datasets(a, make_task(a))[1].tokens, datasets(b, make_task(b))[1].tokens)  # same data
    mb, mc = (build_model(x, make_task(x), generator(x.seed, "init")) for x in (b, c))
    assert torch.equal(mb.V, mc.V) and torch.equal(mb.W0, mc.W0)  # the init of seed 3
    assert data_key(a) is None and data_key(b) == data_key(cfg(SMALL | SHARED[2]))  # zero init never shares


def test_shared_data_products_equal_the_exact_token_passes():
    """The sparse one-hot products of a shared-data batch give the scatter/gather sums."""
    cfgs = [cfg(SMALL | v) for v in SHARED]
    task = make_task(cfgs[0])
    batch = datasets(cfgs[0], task)[0]()
    models = [build_model(c, task, generator(c.seed, "init")) for c in cfgs]
    params = [{"V": m.V, "W0q": m.W0q} for m in models]
    eps = torch.tensor([c.train.eps for c in cfgs], dtype=torch.float64)
    shared, exact = Batches([batch] * 5, shared=True), Batches([batch] * 5)
    (la, ga), (lb, gb) = (BatchedShiCao(models[0].geo, params).grads(b, eps) for b in (shared, exact))
    assert torch.allclose(la, lb, rtol=1e-12, atol=0, equal_nan=True) and int(la.isfinite().sum()) >= 3
    for k in ga:
        assert torch.allclose(ga[k], gb[k], rtol=1e-10, atol=1e-14, equal_nan=True), k


def test_shared_data_batch_equals_individual_runs(monkeypatch):
    cfgs = [cfg(SMALL | v) for v in SHARED] + [cfg(SMALL | {"seed": 1})]
    assert sorted(map(len, plan(cfgs))) == [6]  # five sharing are too few: one distinct-data batch
    monkeypatch.setattr(multirun, "SHARE_MIN", 5)
    assert sorted(map(len, plan(cfgs))) == [1, 5]  # the five share their data, the other trains apart
    together = train_all(cfgs)
    for c, a in zip(cfgs, together):
        alone = run(c)
        assert a.summary["status"] == alone.summary["status"] and a.error == alone.error
        assert max_diff(a.metrics, alone.metrics) <= 1e-6
    assert {r.summary["status"] for r in together} == {"ok", "failed"}  # σ = 3 diverges, alone too


def test_plan_groups_and_splits():
    cfgs = [cfg(SMALL | {"seed": s}) for s in range(10)] + [cfg(SMALL | {"task.N": 13, "seed": s}) for s in range(3)]
    assert sorted(map(len, plan(cfgs, max_models=4))) == [2, 3, 4, 4]  # 10 -> 4+4+2 (ceil-split: 4,4,2), 3
    assert sorted(map(len, plan(cfgs, min_chunks=2))) == [1, 2, 5, 5]
    for idx in plan(cfgs):
        assert len({shape_key(cfgs[i]) for i in idx}) == 1


@pytest.mark.parametrize("path", ["autograd"])
def test_dense_path_still_runs_alone(path):
    c = cfg(SMALL | {"train.path": path, "train.steps": 2})
    (r,) = train_all([c])
    assert r.summary["status"] == "ok" and r.summary["steps"] == 2
