"""The canonical three-parameter model of "Local to Global" (Makkuva et al., 2024), exactly.

On a binary first-order chain P = [[1−p, p], [q, 1−q]] whose first symbol is drawn from
π = (q, p)/(p+q), every position's current symbol x_n has law π, so the per-position
population loss of a model that looks only at x_n is a sum of two terms and needs no
sampling. Everything here is closed form (float64 numpy, vectorised: every argument
broadcasts, so a grid of initial points is one array):

- the loss, its gradient in (e, w, b), the optimal bias b*(e, w);
- the conserved energy E, the saddle, the global-minimum locus, the analytic basins;
- gradient descent / SGD with momentum / AdamW on the exact loss (:func:`flow`), and
  :func:`train_canonical`, the per-step record that ``model.name=canonical`` trains with.

Sign conventions are the authors' code (``Markov-Fixed``): the logit after x_n is
f_x = e²(1 + 2w|w|)·x + b − e²/2, i.e. f₀ = b − e²/2 and f₁ = f₀ + s with
s = e²(1 + 2w|w|). Everything was re-derived and is tested against finite differences,
small-step flows and Monte-Carlo estimates (tests/test_canonical.py).
"""

from __future__ import annotations

import math

import numpy as np

from ..config import ConfigError, stream_seed

SADDLE = (0.0, -1.0 / math.sqrt(2.0))  # (e, w)
E_SADDLE = -(1.0 + math.log(2.0)) / 2.0  # E at the saddle, ≈ −0.8466
OPTIMIZERS = ("gd", "sgd", "adamw")


def _check(p, q) -> tuple[np.ndarray, np.ndarray]:
    """p, q as float64 arrays, or a one-line :class:`ConfigError` (the CLI's exit status 2)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    for name, v in (("p", p), ("q", q)):
        if not np.all((v > 0) & (v < 1)):
            raise ConfigError(f"task.{name}={v.tolist()} is not allowed with model.name=canonical: 0 < {name} < 1 "
                              "(the bigram logits log(p/(1-p)) and log((1-q)/q) must be finite)")
    return p, q


def stationary(p, q):
    """π = (q, p)/(p + q); returns (π₀, π₁)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    return q / (p + q), p / (p + q)


def reference_losses(p, q):
    """(H(π), H(x_{n+1} | x_n)): the unigram loss h(π₁) (the local minimum, the best predictor
    that ignores x_n) and the bigram loss (q h(p) + p h(q))/(p + q) (the entropy rate, the
    global minimum), h the binary entropy in nats; broadcast over arrays of (p, q).

    The closed forms of :class:`walkformer.tasks.binary.BinaryChain` (tested equal to it), in
    numpy here: the tasks import torch, and the analytic presets need none.
    """
    p, q = np.broadcast_arrays(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64))

    def h(a):  # 0 log 0 = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return -(np.where(a > 0, a * np.log(a), 0.0) + np.where(a < 1, (1.0 - a) * np.log(1.0 - a), 0.0))

    return h(p / (p + q)), (q * h(p) + p * h(q)) / (p + q)


def initial_point(scheme: str, sigma: float, c: float, seed: int) -> tuple[float, float, float]:
    """(e0, w0, b0) of run ``seed``: ``zero`` (0, 0, 0); ``gaussian`` e, w ~ N(0, σ²) and
    b = 0 (the Markov repo); ``anti-aligned`` (c, −c, 0), in the global basin I_* for
    c ≥ 1/√2. The Gaussian draw is numpy's, from the run's ``init`` stream, so the exact
    presets never import torch."""
    if scheme == "zero":
        return 0.0, 0.0, 0.0
    if scheme == "anti-aligned":
        return float(c), float(-c), 0.0
    e, w = (sigma * np.random.default_rng(stream_seed(seed, "init")).standard_normal(2)).tolist()
    return e, w, 0.0


def slope(e, w):
    """s = e²(1 + 2w|w|) = f₁ − f₀, the only combination of (e, w) the loss sees once b = b*."""
    e, w = np.asarray(e, dtype=np.float64), np.asarray(w, dtype=np.float64)
    return e * e * (1.0 + 2.0 * w * np.abs(w))


def logits(e, w, b):
    """f₀ = b − e²/2 (after x_n = 0), f₁ = b + e²/2 + 2e²w|w| (after x_n = 1)."""
    e, b = np.asarray(e, dtype=np.float64), np.asarray(b, dtype=np.float64)
    f0 = b - e * e / 2.0
    return f0, f0 + slope(e, w)


def _sigmoid(f):
    return 0.5 * (1.0 + np.tanh(0.5 * f))  # stable for any f


def loss(e, w, b, p, q):
    """L(e, w, b) = Σ_x π_x [softplus(f_x) − t_x f_x],  t₀ = p = P(1|0), t₁ = 1 − q = P(1|1).

    The exact per-position binary cross-entropy (nats) of the stationary chain.
    """
    p, q = _check(p, q)
    pi0, pi1 = stationary(p, q)
    f0, f1 = logits(e, w, b)
    return pi0 * (np.logaddexp(0.0, f0) - p * f0) + pi1 * (np.logaddexp(0.0, f1) - (1 - q) * f1)


def grad(e, w, b, p, q):
    """∂L/∂(e, w, b) with g_x = π_x (σ(f_x) − t_x):

        ∂L/∂e = −e g₀ + e(1 + 4w|w|) g₁,   ∂L/∂w = 4e²|w| g₁,   ∂L/∂b = g₀ + g₁.

    **Returns:** (L, dL/de, dL/dw, dL/db), broadcast to a common shape.
    """
    p, q = _check(p, q)
    e, w, b = (np.asarray(x, dtype=np.float64) for x in (e, w, b))
    pi0, pi1 = stationary(p, q)
    f0, f1 = logits(e, w, b)
    L = pi0 * (np.logaddexp(0.0, f0) - p * f0) + pi1 * (np.logaddexp(0.0, f1) - (1 - q) * f1)
    g0, g1 = pi0 * (_sigmoid(f0) - p), pi1 * (_sigmoid(f1) - (1 - q))
    aw = w * np.abs(w)
    return L, -e * g0 + e * (1.0 + 4.0 * aw) * g1, 4.0 * e * e * np.abs(w) * g1, g0 + g1


def optimal_bias(e, w, p, q):
    """b*(e, w) = e²/2 + log[(p − q + √((p − q)² + 4pq·eˢ)) / (2q·eˢ)], the root of ∂L/∂b = 0.

    (∂L/∂b = 0 says π₀σ(f₀) + π₁σ(f₁) = π₁, a quadratic in z = e^{f₀}.) Computed in log space,
    with the cancellation-free root for either sign of p − q, so it is finite for any s.
    """
    p, q = _check(p, q)
    e = np.asarray(e, dtype=np.float64)
    return _optimal_f0(slope(e, w), p, q) + e * e / 2.0


def _optimal_f0(s, p, q):
    """f₀ = b* − e²/2 = log z, z the positive root of qS z² + (q − p) z − p = 0, S = eˢ."""
    return _f0_solver(p, q)(s)


def _f0_solver(p, q):
    """s ↦ f₀*(s) for fixed (p, q), with everything that does not depend on s computed once.

    With d = |p − q| and log r = ½ log(d² + 4pq·eˢ), x = log(d + r) (in log space, so any s is
    finite): f₀ = x − log 2q − s if p ≥ q, else log 2p − x (the cancellation-free root).
    :func:`flow` calls it at every step; two logaddexp per point and step.
    """
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_d = np.log(np.abs(p - q))  # −inf where p = q
        two_log_d, log_4pq, log_2q, log_2p = 2.0 * log_d, np.log(4.0 * p * q), np.log(2.0 * q), np.log(2.0 * p)
    ge = p >= q
    every, none = bool(np.all(ge)), not np.any(ge)

    def f0(s):
        x = np.logaddexp(log_d, 0.5 * np.logaddexp(two_log_d, log_4pq + s))
        if every:
            return x - log_2q - s
        if none:
            return log_2p - x
        return np.where(ge, x - log_2q - s, log_2p - x)

    return f0


def energy(e, w):
    """E(e, w) = e² − w² − sign(w)·log|w|, constant along the gradient flow with b = b*.

    With b = b*, ė = −2e(1 + 2w|w|)L'(s) and ẇ = −4|w|e²L'(s), so de²/dw = (1 + 2w|w|)/|w|
    and e² − w² − sign(w)log|w| does not change. On the invariant line w = 0 it is undefined
    (nan): E → +∞ as w → 0⁺ and −∞ as w → 0⁻.
    """
    e, w = np.asarray(e, dtype=np.float64), np.asarray(w, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w == 0, np.nan, e * e - w * w - np.sign(w) * np.log(np.abs(w)))


def s_star(p, q):
    """s* = log((1−p)(1−q)/(pq)): the slope at which (f₀, f₁) are the bigram logits."""
    p, q = _check(p, q)
    return np.log((1 - p) * (1 - q) / (p * q))


def minimum_locus(w, p, q):
    """The global minima Γ* = {(1 + 2w|w|)e² = s*}: e ≥ 0 on Γ* for each w (nan where none).

    p + q < 1 (s* > 0): Γ* lies in w > −1/√2; p + q > 1 (s* < 0): in w < −1/√2.
    """
    w = np.asarray(w, dtype=np.float64)
    e2 = s_star(p, q) / (1.0 + 2.0 * w * np.abs(w))
    with np.errstate(invalid="ignore"):
        return np.where(e2 > 0, np.sqrt(np.where(e2 > 0, e2, 0.0)), np.nan)


def basin(e, w, p, q):
    """The analytic basins of the flow with b = b* (derived from the level sets of E):

        p + q < 1:  I_min = {w < −1/√2, E < E_sad}
        p + q > 1:  I_min = {w ≥ 0} ∪ {−1/√2 < w < 0, E < E_sad}

    **Returns:** True where the flow ends on the global-minimum locus (I_*), False where it
    ends on the unigram line e = 0 (I_min, or e = 0 itself). At p + q = 1 every point is
    optimal (s* = 0) and the result is True.
    """
    p, q = _check(p, q)
    e, w = np.asarray(e, dtype=np.float64), np.asarray(w, dtype=np.float64)
    below = energy(e, w) < E_SADDLE
    w_sad = SADDLE[1]
    stuck_lt = (w < w_sad) & below
    stuck_gt = (w >= 0) | ((w > w_sad) & (w < 0) & below)
    stuck = np.where(p + q < 1, stuck_lt, np.where(p + q > 1, stuck_gt, False))
    return ~stuck & (e != 0)


def flow(p, q, e0, w0, b0=0.0, lr=0.01, steps=1000, optimizer="gd", bias="trained", every=1,
         max_step=None, momentum=0.9, betas=None, weight_decay=None, eps=1e-8):
    """Optimise the exact population loss from many initial points at once.

    θ ← θ − lr·u(∇L), constant lr (the authors' canonical runs have no schedule): ``gd`` plain
    gradient descent; ``sgd`` heavy ball in torch's convention (m ← μm + g, θ ← θ − lr·m);
    ``adamw`` torch's AdamW with the papers' β and weight decay (``optim.py``), decoupled, on e
    and w, not on the bias (``betas``, ``weight_decay``: None for optim.py's). ``bias="optimal"``
    puts b = b*(e, w) before every step (the paper's reduced flow, which conserves E as
    lr → 0); ``"trained"`` trains b from ``b0``.
    ``max_step`` (gd only) clips each point's step to that length: where the loss is steep
    (large |e|, |w|) the steps follow −∇L/‖∇L‖ along the same paths as the flow, elsewhere
    they are plain GD, which a large ``lr`` makes fast; for grids of very different points.

    **Arguments:** p, q, e0, w0, b0 broadcast together to the n initial points.

    **Returns:** dict of float64 arrays of shape (T, n) for ``step`` (T,), ``e``, ``w``, ``b``,
    ``loss``, ``energy``, recorded at step 0, every ``every`` steps and at ``steps``; ``loss``
    at step t is the loss *before* update t + 1.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r} is not allowed: one of {', '.join(OPTIMIZERS)}")
    if bias not in ("trained", "optimal"):
        raise ValueError(f"bias={bias!r} is not allowed: trained|optimal")
    if max_step is not None and (optimizer != "gd" or not max_step > 0):
        raise ValueError(f"max_step={max_step}: only for optimizer='gd', and > 0")
    if steps < 0 or every < 1 or not lr > 0:
        raise ValueError(f"steps={steps}, every={every}, lr={lr}: need steps >= 0, every >= 1, lr > 0")
    if optimizer == "adamw" and (betas is None or weight_decay is None):
        from ..optim import BETAS, WEIGHT_DECAY  # optim.py imports torch: only when needed

        betas, weight_decay = betas or BETAS, WEIGHT_DECAY if weight_decay is None else weight_decay
    p, q = _check(p, q)
    e, w, b, p, q = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (e0, w0, b0, p, q)))
    theta = np.stack([e, w, b]).reshape(3, -1).copy()  # (3, n): rows e, w, b
    p, q = p.reshape(-1), q.reshape(-1)
    pi0, pi1 = stationary(p, q)
    t1 = 1.0 - q
    optimal_f0 = _f0_solver(p, q) if bias == "optimal" else None
    k = 2 if bias == "optimal" else 3  # how many rows of theta are trained
    m, v = np.zeros((k, theta.shape[1])), np.zeros((k, theta.shape[1]))
    g = np.empty((3, theta.shape[1]))
    kept = sorted({*range(0, steps + 1, every), steps})  # the recorded steps
    rec = {key: np.empty((len(kept), theta.shape[1])) for key in ("e", "w", "b", "f0", "f1")}  # (T, n) each
    i = 0
    for t in range(steps + 1):
        e, w = theta[0], theta[1]
        # the body of grad(), inlined: this loop is the whole cost of every preset
        e2, abs_w = e * e, np.abs(w)
        aw = w * abs_w
        s = e2 * (1.0 + 2.0 * aw)
        if optimal_f0 is not None:
            f0 = optimal_f0(s)
            theta[2] = f0 + 0.5 * e2
        else:
            f0 = theta[2] - 0.5 * e2
        f1 = f0 + s
        g0 = pi0 * (_sigmoid(f0) - p)
        g1 = pi1 * (_sigmoid(f1) - t1)
        if t % every == 0 or t == steps:  # loss and energy from these after the loop, in one go
            rec["e"][i], rec["w"][i], rec["b"][i], rec["f0"][i], rec["f1"][i] = *theta, f0, f1
            i += 1
        if t == steps:
            break
        g[0] = e * ((1.0 + 4.0 * aw) * g1 - g0)
        g[1] = 4.0 * e2 * abs_w * g1
        g[2] = g0 + g1
        gk = g[:k]  # (k, n)
        if optimizer == "gd":
            if max_step is not None:  # clip each point's step to length max_step
                gk = gk / np.maximum(1.0, lr / max_step * np.sqrt((gk * gk).sum(0)))
            theta[:k] -= lr * gk
        elif optimizer == "sgd":
            m = gk.copy() if t == 0 else momentum * m + gk
            theta[:k] -= lr * m
        else:  # adamw, as torch.optim.AdamW
            b1, b2 = betas
            theta[:2] *= 1.0 - lr * weight_decay
            m = b1 * m + (1 - b1) * gk
            v = b2 * v + (1 - b2) * gk * gk
            theta[:k] -= lr * (m / (1 - b1 ** (t + 1))) / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps)
    f0, f1 = rec.pop("f0"), rec.pop("f1")
    rec["loss"] = pi0 * (np.logaddexp(0.0, f0) - p * f0) + pi1 * (np.logaddexp(0.0, f1) - t1 * f1)
    rec["energy"] = energy(rec["e"], rec["w"])
    return {"step": np.array(kept)} | rec


def converged_to(final_loss, p, q, frac: float = 0.05):
    """Classify final losses: +1 within ``frac``·(H(π) − H(x'|x)) of the bigram loss, −1 within
    it of the unigram loss, 0 neither (still moving)."""
    U, B = reference_losses(p, q)
    tol = frac * (U - B)
    return np.where(np.abs(final_loss - B) <= tol, 1, np.where(np.abs(final_loss - U) <= tol, -1, 0))


def train_canonical(p, q, e0, w0, b0, lr, steps, optimizer="gd", bias="trained", momentum=0.9) -> list[dict]:
    """One run of the canonical model on the exact population loss (no sampling); the
    arguments are :func:`flow`'s for a single point (``momentum``: ``sgd`` only).

    **Returns:** one dict per step t = 0..steps: ``step``, ``e``, ``w``, ``b``, ``loss`` (before
    update t + 1), ``unigram_loss`` H(π), ``bigram_loss`` H(x'|x), ``energy`` E(e, w).
    """
    r = flow(p, q, e0, w0, b0, lr=lr, steps=steps, optimizer=optimizer, bias=bias, momentum=momentum)
    U, B = (float(x) for x in reference_losses(p, q))
    return [{"step": int(t), "e": float(r["e"][i, 0]), "w": float(r["w"][i, 0]), "b": float(r["b"][i, 0]),
             "loss": float(r["loss"][i, 0]), "unigram_loss": U, "bigram_loss": B,
             "energy": float(r["energy"][i, 0])} for i, t in enumerate(r["step"])]
