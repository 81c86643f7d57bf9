"""The canonical model of "Local to Global" against its theory and against sampled chains."""

import math

import numpy as np
import pytest
import torch

from walkformer.models import canonical as cm
from walkformer.tasks.binary import BinaryChain

rng = np.random.default_rng(7)


def test_gradient_equals_finite_differences():
    e, w, b = rng.normal(size=(3, 50)) * [[1.5], [1.5], [2.0]]
    p, q = rng.uniform(0.05, 0.95, size=(2, 50))
    _, ge, gw, gb = cm.grad(e, w, b, p, q)
    h = 1e-6
    for i, g in enumerate((ge, gw, gb)):
        d = np.zeros((3, 1))
        d[i] = h
        fd = (cm.loss(e + d[0], w + d[1], b + d[2], p, q) - cm.loss(e - d[0], w - d[1], b - d[2], p, q)) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_optimal_bias_and_the_reduced_flow():
    """b* zeroes ∂L/∂b, even for extreme slopes, and with b = b* the gradient is the paper's
    reduced flow: ∇_(e,w) L = L'(s)·(2e(1 + 2w|w|), 4e²|w|), with L'(s) = π₁(σ(f₁) − (1 − q))."""
    e, w = rng.normal(size=(2, 40)) * 2.5
    p, q = rng.uniform(0.05, 0.95, size=(2, 40))
    b = cm.optimal_bias(e, w, p, q)
    assert np.all(np.isfinite(b))
    _, ge, gw, gb = cm.grad(e, w, b, p, q)
    np.testing.assert_allclose(gb, 0.0, atol=1e-12)
    f0, f1 = cm.logits(e, w, b)
    dLds = p / (p + q) * (0.5 * (1 + np.tanh(f1 / 2)) - (1 - q))
    np.testing.assert_allclose(ge, dLds * 2 * e * (1 + 2 * w * np.abs(w)), atol=1e-12)
    np.testing.assert_allclose(gw, dLds * 4 * e * e * np.abs(w), atol=1e-12)
    # b* minimises over b: nudging it either way does not lower the loss (and raises it where
    # the sigmoids are not saturated)
    L = cm.loss(e, w, b, p, q)
    for db in (1e-3, -1e-3):
        Ld = cm.loss(e, w, b + db, p, q)
        assert np.all(Ld >= L - 1e-12) and np.mean(Ld > L) > 0.8


def test_reference_losses_and_minimum_locus():
    U, B = cm.reference_losses([0.5, 0.2], [0.8, 0.3])
    np.testing.assert_allclose(U, [0.6663, 0.6730], atol=1e-4)  # digest table §1.1
    np.testing.assert_allclose(B, [0.6190, 0.5446], atol=1e-4)
    # numpy closed forms == the task's (BinaryChain), including the edges p or q in {0, 1}
    p, q = np.r_[rng.uniform(0.01, 0.99, 30), 0.0, 1.0, 1.0, 0.3], np.r_[rng.uniform(0.01, 0.99, 30), 0.4, 0.0, 1.0, 1.0]
    U, B = cm.reference_losses(p, q)
    chains = [BinaryChain(a, b, 1) for a, b in zip(p, q)]
    np.testing.assert_allclose(U, [c.unigram_loss for c in chains], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(B, [c.bigram_loss for c in chains], rtol=1e-14, atol=1e-15)
    for p, q in ((0.1, 0.1), (0.9, 0.9), (0.5, 0.8), (0.2, 0.3)):
        w = np.linspace(-3, 3, 121)
        e = cm.minimum_locus(w, p, q)
        ok = np.isfinite(e)
        assert ok.sum() > 30  # the locus is on the side of the saddle the theory says
        assert np.all(w[ok] > -1 / math.sqrt(2)) if p + q < 1 else np.all(w[ok] < -1 / math.sqrt(2))
        L = cm.loss(e[ok], w[ok], cm.optimal_bias(e[ok], w[ok], p, q), p, q)
        np.testing.assert_allclose(L, cm.reference_losses(p, q)[1], atol=1e-12)
        # and nothing on the grid beats it
        E, W = np.meshgrid(np.linspace(-3, 3, 61), w)
        assert cm.loss(E, W, cm.optimal_bias(E, W, p, q), p, q).min() >= L.min() - 1e-12


def test_energy_is_conserved_along_small_step_flow():
    """GD with b = b*: E drifts only by the O(lr) discretisation error (4x lr, ~4x drift),
    while the parameters themselves move by O(1)."""
    starts = np.array([(1.0, -0.5), (0.3, -1.5), (2.0, -1.0), (0.5, 0.5), (1.0, -1.5)])
    drift = {}
    for p, q in ((0.2, 0.3), (0.9, 0.9)):
        for lr in (1e-3, 4e-3):
            r = cm.flow(p, q, starts[:, 0], starts[:, 1], lr=lr, steps=int(4 / lr), bias="optimal", every=int(4 / lr))
            dE = np.abs(r["energy"][-1] - r["energy"][0])
            drift[p, lr] = dE.max()
            moved = np.abs(r["e"][-1] - r["e"][0]) + np.abs(r["w"][-1] - r["w"][0])
            assert np.all(moved > 10 * dE) and moved.max() > 0.5
        assert drift[p, 1e-3] < 2e-3
        assert 2.5 < drift[p, 4e-3] / drift[p, 1e-3] < 6.0
    # with b trained instead E is not conserved (the digest's caveat), by orders of magnitude more
    r = cm.flow(0.2, 0.3, starts[:, 0], starts[:, 1], 0.0, lr=1e-3, steps=4000, bias="trained", every=4000)
    assert np.abs(r["energy"][-1] - r["energy"][0]).max() > 100 * drift[0.2, 1e-3]


def test_saddle_and_unigram_line():
    assert cm.energy(*cm.SADDLE) == pytest.approx(cm.E_SADDLE, abs=1e-15)
    h = 1e-3
    for p, q in ((0.1, 0.1), (0.9, 0.9)):
        w = np.array([-1.5, -0.75, -0.66, 0.5])
        L = lambda e: cm.loss(e, w, cm.optimal_bias(e, w, p, q), p, q)  # noqa: E731
        curv = (L(h) - 2 * L(0.0) + L(-h)) / h ** 2
        # p + q < 1: minima left of −1/√2; p + q > 1: minima right of it
        expect = np.array([1, 1, -1, -1]) * (1 if p + q < 1 else -1)
        assert np.all(np.sign(curv) == expect)


def test_analytic_basins_match_the_flow():
    e, w = rng.uniform(-2.5, 2.5, size=(2, 300))
    keep = np.abs(cm.energy(e, w) - cm.E_SADDLE) > 0.05  # not on the separatrix
    e, w = e[keep], w[keep]
    for p, q in ((0.1, 0.1), (0.9, 0.9), (0.5, 0.8), (0.2, 0.3)):
        r = cm.flow(p, q, e, w, lr=0.1, max_step=0.02, steps=1000, bias="optimal", every=1000)
        got = cm.converged_to(r["loss"][-1], p, q)
        want = np.where(cm.basin(e, w, p, q), 1, -1)
        assert np.mean(want == 1) not in (0.0, 1.0)  # both basins are sampled
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("p,q,target", [(0.5, 0.8, "unigram"), (0.2, 0.3, "bigram")])
def test_small_init_converges_to_the_theorys_minimum(p, q, target):
    U, B = cm.reference_losses(p, q)
    for seed in range(3):
        e0, w0 = 0.01 * np.random.default_rng(seed).normal(size=2)
        lines = cm.train_canonical(p, q, e0, w0, 0.0, lr=0.01, steps=1000, optimizer="sgd")
        last = lines[-1]
        assert last["step"] == 1000 and len(lines) == 1001
        assert last["unigram_loss"] == U and last["bigram_loss"] == B
        want, other = (U, B) if target == "unigram" else (B, U)
        assert abs(last["loss"] - want) < 1e-4 and abs(last["loss"] - other) > 0.04
        assert (abs(last["e"]) < 1e-3) == (target == "unigram")


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.01), ("gd", 0.1), ("adamw", 0.01)])
def test_global_basin_init_reaches_the_bigram_loss(optimizer, lr):
    p, q = 0.5, 0.8
    U, B = cm.reference_losses(p, q)
    assert cm.basin(1.0, -1.0, p, q) and not cm.basin(0.01, 0.01, p, q)
    last = cm.train_canonical(p, q, 1.0, -1.0, 0.0, lr=lr, steps=2000, optimizer=optimizer)[-1]
    assert abs(last["loss"] - B) < 1e-4, last


def test_exact_loss_equals_monte_carlo():
    """Mean BCE over sampled chains (stationary start, targets at every position) equals the
    exact loss within 4 standard errors of the per-sequence means (sequences are independent)."""
    gen = torch.Generator().manual_seed(0)
    for p, q in ((0.5, 0.8), (0.2, 0.3)):
        x, y = BinaryChain(p, q, 512).sample_next_token(400, gen)  # (400, 512) each
        x, y = x.numpy(), y.numpy()
        for e, w, b in ((1.0, -1.0, 0.3), (0.7, 0.4, -0.2), (0.0, 0.0, math.log(p / q))):
            f0, f1 = cm.logits(e, w, b)
            f = np.where(x == 1, f1, f0)  # (400, 512)
            bce = np.logaddexp(0.0, f) - y * f
            per_seq = bce.mean(1)
            se = per_seq.std(ddof=1) / math.sqrt(len(per_seq))
            assert abs(per_seq.mean() - cm.loss(e, w, b, p, q)) < 4 * se, (p, q, e, w, b)
            assert se < 5e-3  # the tolerance is tight enough to mean something


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="task.p=0.0 .*0 < p < 1"):
        cm.loss(1.0, 0.0, 0.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="task.q=1.0 "):
        cm.train_canonical(0.5, 1.0, 1.0, -1.0, 0.0, 0.01, 10)
    with pytest.raises(ValueError, match="optimizer='adam'"):
        cm.flow(0.5, 0.5, 1.0, 1.0, optimizer="adam")


def test_presets_claims_hold(tmp_path):
    from walkformer.experiments import REGISTRY

    for name in ("l2g-fig1", "l2g-canonical"):
        exp = REGISTRY[name]
        claims = exp.analyse({}, tmp_path, exp)
        assert claims and all(c["holds"] for c in claims), [c["id"] for c in claims if not c["holds"]]
    assert (tmp_path / "fig1.png").stat().st_size > 0 and (tmp_path / "canonical.png").stat().st_size > 0


def test_preset_seed_is_the_cli_seed():
    """The l2g-canonical preset's seed k starts, and ends, where `walkformer train
    model.name=canonical ... seed=k` does."""
    from walkformer.config import Config, apply_overrides, resolve
    from walkformer.experiments.canonical import SMALL, small_inits
    from walkformer.loop import run

    over = {"task.name": "binary", "model.name": "canonical", "task.p": 0.2, "task.q": 0.3,
            "init.sigma": SMALL, "seed": 2, "train.steps": 300}
    s = run(resolve(apply_overrides(Config(), over), set(over)), keep_metrics=False).summary
    e0, w0, b0 = small_inits(0.2, 0.3, 3)[2]
    assert (s["e0"], s["w0"], s["b0"]) == (e0, w0, b0) and e0 != 0
    last = cm.train_canonical(0.2, 0.3, e0, w0, b0, lr=0.01, steps=300, optimizer="sgd")[-1]
    assert (s["e"], s["w"], s["b"], s["test_loss"]) == (last["e"], last["w"], last["b"], last["loss"])


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "adamw"])
def test_optimisers_equal_torch(optimizer):
    """flow's hand-written updates on the closed-form gradient == torch.optim on autograd."""
    from walkformer.optim import BETAS, WEIGHT_DECAY

    p, q, lr, steps = 0.5, 0.8, 0.05, 40
    ew = torch.tensor([0.8, -0.6], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    if optimizer == "adamw":
        opt = torch.optim.AdamW([{"params": [ew], "weight_decay": WEIGHT_DECAY}, {"params": [b], "weight_decay": 0.0}],
                                lr=lr, betas=BETAS)
    else:
        opt = torch.optim.SGD([ew, b], lr=lr, momentum=0.9 if optimizer == "sgd" else 0.0)
    pi1 = p / (p + q)
    for _ in range(steps):
        e, w = ew[0], ew[1]
        f0 = b - e * e / 2
        f1 = f0 + e * e * (1 + 2 * w * w.abs())
        bce = lambda f, t: torch.nn.functional.softplus(f) - t * f  # noqa: E731
        loss = (1 - pi1) * bce(f0, p) + pi1 * bce(f1, 1 - q)
        opt.zero_grad()
        loss.backward()
        opt.step()
    r = cm.flow(p, q, 0.8, -0.6, 0.1, lr=lr, steps=steps, optimizer=optimizer, every=steps)
    got = [r[k][-1, 0] for k in "ewb"]
    np.testing.assert_allclose(got, [*ew.detach().numpy(), b.item()], rtol=1e-12, atol=1e-13)


def test_cli_rejects_a_chain_without_finite_bigram_logits(tmp_path, capsys):
    from walkformer.cli import main

    rc = main(["train", "--out", str(tmp_path / "run"), "--quiet", "task.name=binary", "model.name=canonical",
               "task.p=0.5", "task.q=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "task.q=1.0" in err
