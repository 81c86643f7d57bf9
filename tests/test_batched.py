"""Many models in one batched model give the numbers each gives alone."""

import math

import pytest
import torch

from walkformer.config import Config, apply_overrides, resolve
from walkformer.multirun import plan, shape_key, train_all
from walkformer.train import run

from conftest import numbers

SMALL = {"task.K": 5, "task.N": 12, "model.M": 30, "train.steps": 12, "train.n_train": 60, "eval.n_test": 60,
         "eval.every": 4}
# differing in p, σ, η, ε, seed and init scheme inside one shape group; the last one diverges
VARY = [{"task.p": 0.5}, {"task.p": 0.7, "init.scheme": "gaussian", "init.sigma": 0.05, "seed": 1},
        {"task.p": 1.0, "train.eta": 2.0, "seed": 2}, {"task.p": 0.3, "train.eps": 0.05, "seed": 3},
        {"task.p": 0.9, "init.scheme": "gaussian", "init.sigma": 3.0, "seed": 1}]
SHAPES = [{}, {"model.pos": "onehot"}, {"model.normalize": True}, {"train.data": "online"},
          {"train.data": "population", "task.N": 6, "model.M": 20},
          {"model.head": "relu", "init.scheme": "gaussian", "init.sigma": 0.1}]


def cfg(over):
    return resolve(apply_overrides(Config(), over), set(over))


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
    cfgs = [cfg(SMALL | s | v) for s in SHAPES for v in VARY]
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
