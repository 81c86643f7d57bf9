"""The value-matrix law (issue 12): under the ε-log-loss V's direction tends to (Πᵀ)^{∘½};
the metrics that measure it, and the log-spaced evaluation grid."""

import json
import math

import numpy as np
import pytest
import torch

from walkformer.runs import multirun
from walkformer.config import Config, ConfigError, apply_overrides, resolve
from walkformer.experiments.value_law import circle_plateau, direction_distance, plateau_cosine, slope
from walkformer.metrics import f_distances
from walkformer.ops import shicao_kernel
from walkformer.tasks import circle_transition
from walkformer.loop import run
from walkformer.training import save

from conftest import numbers

POP = {"task.K": 6, "task.N": 7, "model.pos": "onehot", "model.M": 50, "train.data": "population",
       "init.scheme": "zero", "train.eta": 1.0, "train.eps": 0.1, "eval.n_test": 200}


def cfg(over):
    return resolve(apply_overrides(Config(), over), set(over))


@pytest.fixture(scope="module")
def population():
    """Exact population runs, 1000 steps on the log grid, for p = 0.3, 0.5, 0.8."""
    return {p: run(cfg(POP | {"task.p": p, "train.steps": 1000, "eval.grid": "log", "eval.f_distance": True}))
            for p in (0.3, 0.5, 0.8)}


@pytest.mark.parametrize("p", [0.3, 0.8])
def test_V_closer_to_the_square_root_for_p_not_half(population, p):
    """cos(V, (Πᵀ)^∘½) above cos(V, Πᵀ) from step 10 on, and the gap does not close."""
    ms = [m for m in population[p].metrics if m["step"] >= 10]
    assert all(m["value_cosine_sqrt"] > m["value_cosine"] for m in ms)
    last = ms[-1]
    assert last["value_cosine_sqrt"] > 0.999 and last["value_cosine"] < 0.99  # 0.99945, 0.98451 at p = 0.3


def test_both_cosines_equal_at_p_half(population):
    assert all(abs(m["value_cosine_sqrt"] - m["value_cosine"]) <= 1e-9 for m in population[0.5].metrics)
    assert all(abs(m["f_sqrt_distance"] - m["f_opt_distance"]) <= 1e-9 for m in population[0.5].metrics)


@pytest.mark.parametrize("p", [0.3, 0.8])
def test_rate_and_plateau_on_the_population(population, p):
    """Distance to (Πᵀ)^∘½ falls like T^{-1/2}; cos(V, Πᵀ) ends at the closed-form plateau."""
    ms = population[p].metrics
    steps = [m["step"] for m in ms]
    Pi_T = circle_transition(6, p).T
    d_sqrt = [direction_distance(m["V"], np.sqrt(Pi_T)) for m in ms]
    d_pi = [direction_distance(m["V"], Pi_T) for m in ms]
    assert -0.6 <= slope(steps, d_sqrt, (100, 1000)) <= -0.4
    assert slope(steps, d_pi, (100, 1000)) > -0.1
    assert abs(ms[-1]["value_cosine"] - circle_plateau(p)) <= 1e-3
    assert -0.6 <= slope(steps, [m["f_sqrt_distance"] for m in ms], (100, 1000)) <= -0.4
    # the distance from a metric line agrees with the one from V: d² = 2 − 2 cos
    assert math.isclose(d_sqrt[-1], math.sqrt(2 - 2 * ms[-1]["value_cosine_sqrt"]), rel_tol=1e-6)


def test_accuracy_is_optimal_under_the_law(population):
    for p, r in population.items():
        assert r.metrics[-1]["test_accuracy"] >= max(p, 1 - p) - 3 * math.sqrt(p * (1 - p) / 200)


def test_plateau_formula_against_a_direct_computation():
    for p in (0.3, 0.5, 0.7, 0.8, 0.9):
        P = circle_transition(6, p)
        S, T = np.sqrt(P.T), P.T
        direct = float(np.sum(S * T) / (np.linalg.norm(S) * np.linalg.norm(T)))
        assert abs(plateau_cosine(P) - direct) <= 1e-12 and abs(circle_plateau(p) - direct) <= 1e-12
    assert abs(circle_plateau(0.8) - 0.97619) <= 1e-5 and circle_plateau(0.5) == pytest.approx(1.0, abs=1e-15)
    rng = np.random.default_rng(0)  # a non-circulant stochastic matrix: the general formula
    P = rng.random((5, 5)) ** 3
    P /= P.sum(1, keepdims=True)
    direct = float(np.sum(np.sqrt(P) * P) / (np.linalg.norm(np.sqrt(P)) * np.linalg.norm(P)))
    assert abs(plateau_cosine(P) - direct) <= 1e-12 and direct < 0.99


def test_f_distances_by_hand():
    targets = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64).T[None]  # (1, K=2, B=2)
    f = torch.tensor([[3.0, 0.0], [0.0, 0.0]], dtype=torch.float64).T  # f_1 ∝ g_1, f_2 = 0
    assert f_distances(f, targets, 0).tolist() == pytest.approx([0.5 * (0.0 + 1.0)])  # f = 0: distance 1
    f = torch.tensor([[0.0, 2.0], [-1.0, 0.0]], dtype=torch.float64).T
    want = 0.5 * (math.sqrt(2.0) + math.hypot(-1 - 0.6, -0.8))
    assert f_distances(f, targets, 0).tolist() == pytest.approx([want], abs=1e-12)


def test_log_grid_logs_what_it_promises():
    r = run(cfg(POP | {"task.p": 0.8, "train.steps": 200, "eval.grid": "log", "eval.per_decade": 10}))
    assert [m["step"] for m in r.metrics] == [0, 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79,
                                              100, 126, 158, 200]
    r = run(cfg(POP | {"task.p": 0.8, "train.steps": 1000, "eval.grid": "log", "eval.per_decade": 1}))
    assert [m["step"] for m in r.metrics] == [0, 1, 10, 100, 1000]
    assert "f_opt_distance" not in r.metrics[-1] and "f_opt_distance" not in r.summary  # only when asked


@pytest.mark.parametrize("over, key", [({"eval.grid": "logarithmic"}, "eval.grid"),
                                       ({"eval.per_decade": 0}, "eval.per_decade"),
                                       ({"eval.grid": "log", "eval.every": 10}, "eval.every"),
                                       ({"eval.grid": "log", "model.name": "gpt", "task.name": "binary"}, "eval.grid"),
                                       ({"eval.f_distance": True, "model.name": "canonical", "task.name": "binary"},
                                        "eval.f_distance")])
def test_eval_keys_are_validated(over, key):
    with pytest.raises(ConfigError) as e:
        cfg(over)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(key) and str(list(over.values())[list(over).index(key)]) in msg


def test_value_cosine_sqrt_in_summary_json(tmp_path):
    r = run(cfg(POP | {"task.p": 0.8, "train.steps": 20}))
    save(r, tmp_path / "run", figures=False)
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["value_cosine_sqrt"] == r.metrics[-1]["value_cosine_sqrt"] > s["value_cosine"] > 0.9
    V, Pi_T = np.asarray(r.metrics[-1]["V"]), circle_transition(6, 0.8).T
    direct = float(np.sum(V * np.sqrt(Pi_T)) / (np.linalg.norm(V) * np.linalg.norm(np.sqrt(Pi_T))))
    assert s["value_cosine_sqrt"] == pytest.approx(direct, abs=1e-12)


def test_the_C_and_torch_metrics_agree(monkeypatch):
    if not shicao_kernel.usable(torch.float64):
        pytest.skip("no C compiler")
    c = cfg({"task.K": 5, "task.N": 12, "model.M": 30, "train.steps": 20, "train.n_train": 60, "eval.n_test": 60,
             "task.p": 0.7, "eval.f_distance": True})
    a = run(c)
    monkeypatch.setenv("WALKFORMER_OPS", "-shicao_step")
    b = run(c)
    for x, y in zip(a.metrics, b.metrics):
        for k in ("value_cosine", "value_cosine_sqrt", "f_opt_distance", "f_sqrt_distance"):
            assert x[k] == pytest.approx(y[k], abs=1e-9), k


def test_batched_path_equals_single_runs(monkeypatch):
    """multirun.train_group (the GPU / no-compiler path) honours the log grid and gives
    value_cosine_sqrt and the f-distances of training.run."""
    monkeypatch.setattr(multirun, "alone_is_faster", lambda device: False)
    base = {"task.K": 5, "task.N": 12, "model.M": 30, "train.steps": 60, "train.n_train": 60, "eval.n_test": 60,
            "eval.grid": "log", "eval.per_decade": 5, "eval.f_distance": True}
    cfgs = [cfg(base | v) for v in ({"task.p": 0.7}, {"task.p": 0.3, "seed": 1, "train.eps": 0.05},
                                    {"task.p": 0.5, "init.scheme": "gaussian", "init.sigma": 0.05, "seed": 2})]
    assert len(multirun.plan(cfgs)) == 1
    for a, c in zip(multirun.train_all(cfgs), cfgs):
        b = run(c)
        assert [m["step"] for m in a.metrics] == [m["step"] for m in b.metrics] == [0, 1, 2, 3, 4, 6, 10, 16, 25,
                                                                                    40, 60]
        for k in ("value_cosine_sqrt", "f_opt_distance", "f_sqrt_distance"):
            assert a.summary[k] == pytest.approx(b.summary[k], abs=1e-6)
            assert [m[k] for m in a.metrics] == pytest.approx([m[k] for m in b.metrics], abs=1e-6)
        assert len(numbers(a.metrics)) == len(numbers(b.metrics))
