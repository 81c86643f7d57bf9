"""Many gpt runs in one batched model give the numbers each gives alone (binary chains)."""

import math

import pytest
import torch

from walkformer.runs import multirun
from walkformer.config import Config, apply_overrides, resolve
from walkformer.models.batched_gpt import BatchedGPT
from walkformer.runs.multirun import plan, shape_key, train_all
from walkformer.runs.multirun_gpt import train_gpt_group
from walkformer.loop import run
from walkformer.training import generator
from walkformer.train_binary import build_gpt

from conftest import numbers

SMALL = {"task.name": "binary", "model.name": "gpt", "task.N": 16, "train.steps": 12, "eval.every": 4,
         "eval.n_test": 8, "train.batch": 4, "dtype": "float64"}
# one shape; differing in seed, p, q, tying, init scheme and c, lr; the last one diverges (lr 1e100:
# overflow at step 1 in every attention backend; with lr 1e8 the step at which ~1e13 parameters
# turn into NaN, and the chaotic steps before it, depended on the attention arithmetic)
MIXED = [{"seed": 0, "task.p": 0.5, "task.q": 0.8, "model.tie": True},
         {"seed": 1, "task.p": 0.2, "task.q": 0.3, "model.tie": False},
         {"seed": 2, "task.p": 0.5, "task.q": 0.8, "model.tie": False},
         {"seed": 0, "task.p": 0.9, "task.q": 0.1, "model.tie": True, "train.lr": 2e-2},
         {"seed": 3, "init.scheme": "anti-aligned", "init.c": 0.5},
         {"seed": 4, "init.scheme": "rank-one", "model.tie": False, "task.p": 0.3},
         {"seed": 5, "train.lr": 1e100}]


def cfg(over):
    over = SMALL | over
    return resolve(apply_overrides(Config(), over), set(over))


def assert_same(alone, batched, tol=1e-6):
    """Same metrics, summary and final parameters, to ``tol`` (relative above 1: a
    diverged run's parameters are ~1e100); returns the largest difference."""
    worst = 0.0
    for a, b in zip(alone, batched):
        assert a.summary["status"] == b.summary["status"] and a.error == b.error
        fa, fb = numbers([a.summary, a.metrics]), numbers([b.summary, b.metrics])
        assert len(fa) == len(fb)
        for u, v in zip(fa, fb):
            if isinstance(u, float) and isinstance(v, float):
                assert (math.isnan(u) and math.isnan(v)) or abs(u - v) <= tol * max(1.0, abs(u)), (u, v)
                worst = max(worst, 0.0 if math.isnan(u) else abs(u - v))
            else:
                assert u == v
        ta, tb = a.model.tensors(), b.model.tensors()
        assert ta.keys() == tb.keys()
        for k in ta:
            d = float((ta[k] - tb[k]).abs().max())
            assert d <= tol * max(1.0, float(ta[k].abs().max())) or (ta[k].isnan().any() and tb[k].isnan().any()), k
            worst = max(worst, 0.0 if math.isnan(d) else d)
    return worst


def test_mixed_grid_equals_runs_alone():
    cfgs = [cfg(v) for v in MIXED]
    assert len({shape_key(c) for c in cfgs}) == 1
    alone = [run(c) for c in cfgs]
    batched = train_gpt_group(cfgs)
    assert_same(alone, batched)
    # the comparison has power: the runs differ from one another far beyond the tolerance
    finals = [r.summary["test_loss"] for r in alone[:-1]]
    assert min(abs(a - b) for i, a in enumerate(finals) for b in finals[i + 1:]) > 1e-4
    # the diverging run fails alone at its own step; the others run to the end
    assert batched[-1].summary["status"] == "failed" and batched[-1].summary["steps"] < SMALL["train.steps"]
    assert all(r.summary["status"] == "ok" and r.summary["steps"] == SMALL["train.steps"] for r in batched[:-1])


@pytest.mark.parametrize("opt", ["sgd", "gd"])
def test_other_optimisers_and_layernorm_equal_runs_alone(opt):
    cfgs = [cfg({"train.optimizer": opt, "train.lr": 0.05, "model.layernorm": True, "model.layers": 2,
                 "model.heads": 2, "seed": s, "task.p": p, "model.tie": t} | ({"train.momentum": m} if opt == "sgd"
                                                                          else {}))  # momentum: sgd only
            for s, p, m, t in ((0, 0.5, 0.9, True), (1, 0.3, 0.5, False))]
    assert_same([run(c) for c in cfgs], train_gpt_group(cfgs))


def test_a_wrong_stream_is_caught():
    """The equality test can fail: the same runs with their seeds swapped differ."""
    cfgs = [cfg(v) for v in MIXED[:2]]
    swapped = [cfg(MIXED[0] | {"seed": 1}), cfg(MIXED[1] | {"seed": 0})]
    with pytest.raises(AssertionError):
        assert_same([run(c) for c in cfgs], train_gpt_group(swapped))


def test_single_view_is_model_r():
    cfgs = [cfg(v) for v in MIXED[:4]]
    singles = [build_gpt(c, generator(c.seed, "init")) for c in cfgs]
    model = BatchedGPT(singles)
    x = torch.randint(0, 2, (4, 3, 16), generator=torch.Generator().manual_seed(0))
    logits = model.forward(x)  # (R, B, N)
    for r, m in enumerate(singles):
        torch.testing.assert_close(logits[r], m(x[r]), atol=1e-12, rtol=0)
        view = model.single(r)
        assert view.tie == m.tie
        out, cache = view.run_with_cache(x[r], ["blocks.0.attn.hook_pattern"])
        torch.testing.assert_close(out, m(x[r]), atol=1e-12, rtol=0)
        assert cache["blocks.0.attn.hook_pattern"].shape == (3, 1, 16, 16)


def test_train_all_batches_gpt_runs(monkeypatch):
    """train_all (behind ``reproduce`` and ``sweep``) trains gpt runs batched: the solo
    trainer is never called, and different shapes form different groups."""
    cfgs = [cfg(v) for v in MIXED[:3]] + [cfg({"task.N": 8, "seed": 7})]
    assert len(plan(cfgs)) == 2
    expected = [run(c) for c in cfgs]

    def boom(*a, **k):
        raise AssertionError("loop.run called: the batched path was not used")
    monkeypatch.setattr(multirun, "run", boom)
    assert_same(expected, train_all(cfgs))


def test_example_binary_sweep(tmp_path):
    """examples/sweep_binary_pq.toml: 5 p × 5 q × tied/untied × 10 seeds (here 2 seeds,
    3 steps, tiny test set); the grid is batched and every row has its gap."""
    from pathlib import Path

    from walkformer.runs.sweep import expand, load, sweep

    spec = load(Path(__file__).parents[1] / "examples" / "sweep_binary_pq.toml")
    assert len(expand(spec)) == 500 and spec.base["model.name"] == "gpt" and spec.base["task.N"] == 32
    spec.seeds = [0, 1]
    spec.grid = {"task.p": [0.2, 0.8], "task.q": [0.3, 0.8], "model.tie": [True, False]}
    spec.base |= {"train.steps": 3, "eval.n_test": 4, "eval.every": 3}
    assert len(plan(expand(spec))) == 1  # one shape: one batch
    df = sweep(spec, tmp_path, workers=1, quiet=True)
    assert len(df) == 16 and (df["status"] == "ok").all() and (df["kl"] >= 0).all()
    assert set(df["model.tie"]) == {True, False} and set(df["task.p"]) == {0.2, 0.8}
