"""Bag-of-states accuracy (tasks/bag.py) against brute force, its closed forms, its Monte
Carlo estimate, and the summary.json field of a ``model.pos=none`` run."""

import itertools
import json

import numpy as np
import pytest

from walkformer.tasks import bag
from walkformer.tasks.bag import (bag_accuracy, bag_accuracy_exact, bag_accuracy_mc, cycle_joint_of_counts,
                                  joint_of_counts, sample_counts)
from walkformer.tasks.circle import circle_transition


def brute_force(Pi, mu, N):
    """Σ_c max_y P(c, y) by enumerating all K^(N−1) sequences x_1..x_{N−1}."""
    K, by_counts = len(mu), {}
    for seq in itertools.product(range(K), repeat=N - 1):
        pr = mu[seq[0]] * np.prod([Pi[a, b] for a, b in zip(seq, seq[1:])])
        c = tuple(np.bincount(seq, minlength=K))
        by_counts[c] = by_counts.get(c, np.zeros(K)) + pr * Pi[seq[-1]]
    return sum(v.max() for v in by_counts.values())


def random_chain(K, seed):
    rng = np.random.default_rng(seed)
    Pi, mu = rng.random((K, K)), rng.random(K)
    return Pi / Pi.sum(1, keepdims=True), mu / mu.sum()


@pytest.mark.parametrize("p", [0.5, 0.7, 0.9])
def test_exact_equals_brute_force_on_the_circle(p):
    Pi, mu = circle_transition(5, p), np.full(5, 0.2)
    assert bag_accuracy_exact(Pi, mu, 5) == pytest.approx(brute_force(Pi, mu, 5), abs=1e-12)


def test_exact_equals_brute_force_on_a_random_chain():
    Pi, mu = random_chain(5, 3)  # not circulant, dense, non-uniform start
    exact = bag_accuracy_exact(Pi, mu, 5)
    assert exact == pytest.approx(brute_force(Pi, mu, 5), abs=1e-12)
    assert 1 / 5 < exact < 1  # neither trivial bound


@pytest.mark.parametrize("N", [7, 13, 19])
def test_symmetry_forces_one_over_K_at_p1(N):
    """p = 1, N − 1 a multiple of K: every start gives the same counts, BAG = 1/K exactly
    (the DP finds it too, and the dispatcher's closed form agrees)."""
    Pi, mu = circle_transition(6, 1.0), np.full(6, 1 / 6)
    assert bag_accuracy_exact(Pi, mu, N) == pytest.approx(1 / 6, abs=1e-12)
    assert bag_accuracy(Pi, mu, N) == (1 / 6, None)


@pytest.mark.parametrize("N", [5, 8, 12, 14])
def test_counts_reveal_the_walk_at_p1_otherwise(N):
    Pi, mu = circle_transition(6, 1.0), np.full(6, 1 / 6)
    assert bag_accuracy_exact(Pi, mu, N) == pytest.approx(1.0, abs=1e-12)
    assert bag_accuracy(Pi, mu, N) == (1.0, None)


def test_best_theorem_equals_the_restricted_dp():
    """P(c, l) of one count vector: BEST (cycle chains) = the DP over sub-vectors of c, also
    for a cycle chain with its own probability on every edge and a non-uniform start."""
    rng = np.random.default_rng(0)
    Pi = np.zeros((5, 5))
    for i in range(5):
        q = rng.random()
        Pi[i, (i + 1) % 5], Pi[i, (i - 1) % 5] = q, 1 - q
    mu = rng.random(5) / 1.0
    mu /= mu.sum()
    cases = [(circle_transition(6, 0.8), np.full(6, 1 / 6), 14), (Pi, mu, 10),
             (circle_transition(3, 0.6), np.full(3, 1 / 3), 9), (circle_transition(4, 0.3), np.full(4, 1 / 4), 11)]
    for P, m, n in cases:
        for c in sample_counts(P, m, n, 15, rng):
            a, b = cycle_joint_of_counts(P, m, c), joint_of_counts(P, m, c)
            assert b.sum() > 0 and np.allclose(a, b, rtol=1e-10, atol=0)


def test_monte_carlo_agrees_with_exact():
    """N = 13 (exact DP feasible) through the Monte Carlo path: within 4 standard errors."""
    for Pi, mu in ((circle_transition(6, 0.7), np.full(6, 1 / 6)), random_chain(4, 5)):
        exact = bag_accuracy_exact(Pi, mu, 9)
        est, se = bag_accuracy_mc(Pi, mu, 9, samples=400, seed=1)
        assert se > 0 and abs(est - exact) <= 4 * se


def test_dispatcher_uses_monte_carlo_beyond_the_exact_limit(monkeypatch):
    monkeypatch.setattr(bag, "EXACT_MAX_VECTORS", 10)
    monkeypatch.setattr(bag, "_CACHE", {})
    Pi, mu = circle_transition(6, 0.5), np.full(6, 1 / 6)
    est, se = bag_accuracy(Pi, mu, 8)
    assert se is not None and abs(est - bag_accuracy_exact(Pi, mu, 8)) <= 4 * se


def test_pos_none_summary_has_bag_accuracy(tmp_path):
    from walkformer.cli import main

    out = tmp_path / "r"
    over = ["task.K=6", "task.N=8", "task.p=1.0", "model.pos=none", "train.steps=3", "train.n_train=100",
            "eval.n_test=100", "init.scheme=zero"]
    assert main(["train", "--out", str(out), "--quiet", *over]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["bag_accuracy"] == 1.0 and s["bag_accuracy_se"] is None
    assert main(["train", "--out", str(tmp_path / "q"), "--quiet", *over[:3], "model.M=30", "train.steps=1"]) == 0
    assert "bag_accuracy" not in json.loads((tmp_path / "q" / "summary.json").read_text())  # positions: no field


def test_batched_path_reports_bag_accuracy(monkeypatch):
    """multirun's batched trainer summarises through training.summarise too: same fields."""
    from walkformer.runs import multirun
    from walkformer.config import Config, apply_overrides, resolve

    monkeypatch.setattr(multirun, "alone_is_faster", lambda device: False)
    over = {"task.K": 6, "task.N": 8, "model.pos": "none", "train.steps": 2, "train.n_train": 50,
            "eval.n_test": 50, "init.scheme": "zero"}
    cfgs = [resolve(apply_overrides(Config(), o), set(o)) for o in (over | {"task.p": 1.0}, over | {"task.p": 0.5})]
    a, b = multirun.train_all(cfgs)
    assert (a.summary["bag_accuracy"], a.summary["bag_accuracy_se"]) == (1.0, None)
    assert b.summary["bag_accuracy"] == pytest.approx(bag_accuracy_exact(circle_transition(6, 0.5), np.full(6, 1 / 6), 8))


def test_no_position_claims_follow_the_measurements(tmp_path):
    """The preset's analysis on synthetic runs: the authors' statement fails exactly in the
    cells whose mean accuracy is above 1/K + 3 binomial s.d., and a model above BAG fails
    bag-bounds-trained."""
    from walkformer.experiments import REGISTRY
    from walkformer.experiments.no_position import CONTROL, NS, VARIANTS

    exp = REGISTRY["no-position"]

    def fake(label, acc, bag_acc):
        N = int(label.split("-")[0 if label.startswith("N") else 1].lstrip("N"))
        s = {"test_accuracy": acc, "bag_accuracy": bag_acc, "bag_accuracy_se": None, "optimal_accuracy": 1.0,
             "parent_attention": 1.0 / N}
        return {"summary": s, "config": {"eval": {"n_test": 1000}, "task": {"N": N}}, "metrics": []}

    above = "N8-p0.9"
    runs = {k: [fake(k, 0.5 if k == above else 1 / 6, 0.6) for _ in range(3)] for k in VARIANTS}
    runs |= {k: [fake(k, 0.6, 0.6)] * 3 for k in CONTROL}
    claims = {c["id"]: c for c in exp.analyse(runs, tmp_path, exp)}
    assert [k for k, c in claims.items() if k.startswith("authors-") and not c["holds"]] == [f"authors-{above}"]
    assert claims["bag-bounds-trained"]["holds"] and claims["population-p1"]["holds"]
    diff = exp.differences(list(claims.values()), tmp_path)
    assert diff[0]["claims"] == [f"authors-{above}", "reaches-bag"] and "1 of 24 cells" in diff[0]["ours"]
    q = exp.questions(list(claims.values()), tmp_path)
    assert "in 1 of 24 cells (N, p) (N8-p0.9)" in q[0]["ours"] and len(q[0]["claims"]) == 24
    runs[above] = [fake(above, 0.7, 0.6) for _ in range(3)]  # beats the bag optimum: impossible, must fail
    assert not {c["id"]: c for c in exp.analyse(runs, tmp_path, exp)}["bag-bounds-trained"]["holds"]
    assert len(NS) == 6 and (tmp_path / "no_position.png").exists()
