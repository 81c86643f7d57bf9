"""Each metric's formula, written once, for a batch of R models (one model: R = 1, or no
leading axis where a single model's call has none).

Every function reduces over the class axis ``dim`` and the sequences; a leading model
axis, when there is one, is kept. The callers (``metrics/shicao.py``, ``reference.py``,
``binary.py``) only gather the tensors and name the results.
"""

from __future__ import annotations

import torch


def accuracy(f: torch.Tensor, y: torch.Tensor, dim: int) -> torch.Tensor:
    """Test accuracy: mean over sequences of [argmax_k f_k = y], the first maximum, so ties go
    to the smallest label (Def. 2.1). f (..., K, B) or (..., B, K) with class axis ``dim``,
    y (B,) or (..., B); returns (...) float64."""
    return (f.argmax(dim) == y).double().mean(-1)


def kl_log_eps(f: torch.Tensor, truth: torch.Tensor, eps, dim: int, tlogt=None) -> torch.Tensor:
    """mean_b KL(P(y | x_b) ‖ q_b) of the log-eps read-out, q_k = (f_k⁺ + ε) / Σ_j (f_j⁺ + ε),
    f⁺ = max(f, 0): the ε that makes −log(e_yᵀf + ε) finite keeps q > 0, and f = 0 gives the
    uniform q. Computed as

        KL = (Σ t log t − Σ t log q̃ + Σ_b log Σ_k q̃_bk) / B,   q̃ = f⁺ + ε (unnormalised),

    since Σ_k t_bk = 1 (the C kernel ``ops/shicao_kernel.metrics`` evaluates the same sums).
    f, truth: (K, B) or (R, B, K) etc., class axis ``dim``, the sequence axis the other of
    the last two; ``eps`` a float or (R, 1, 1); ``tlogt``: Σ t log t when the caller caches
    it (else computed). Returns a 0-d tensor, or (R,)."""
    q = torch.clamp(f.double(), min=0.0) + eps  # > 0
    last2 = (f.dim() - 2, f.dim() - 1)
    if tlogt is None:
        tlogt = torch.xlogy(truth, truth).sum(last2)
    n = f.shape[last2[1] if dim % f.dim() == last2[0] else last2[0]]  # sequences
    return (tlogt - (truth * torch.log(q)).sum(last2) + torch.log(q.sum(dim)).sum(-1)) / n


def kl_divergence(truth: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """mean_b KL(P(y | x_b) ‖ q_b) = mean_b Σ_k t_bk (log t_bk − log q_bk) for any predictive
    law q (B, K) (the reference transformer's ``probs``: log-eps, softmax or sigmoid)."""
    return (torch.xlogy(truth, truth) - torch.xlogy(truth, q)).sum(-1).mean(-1)


def frobenius_cosines(V: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """⟨V_r, T_r⟩_F / (‖V_r‖_F ‖T_r‖_F) for each model r, 0 when a norm is 0; V, T (R, K, K)
    → (R,) float64. With T = Πᵀ: Theorem 3.1 item 3; (Πᵀ)^{∘½}: the ε-log-loss direction for
    p ≠ ½ (docs/value-law.md); 1 1ᵀ: Theorem 4.1."""
    na, nb = V.flatten(1).norm(dim=1).double(), T.flatten(1).norm(dim=1).double()
    dot = (V * T).flatten(1).sum(1).double()
    return torch.where((na > 0) & (nb > 0), dot / (na * nb), 0.0)


def cosine(dot: float, norm_v: float, norm_t: float) -> float:
    """The same cosine from its three scalars (what the C kernel returns): 0 when ‖V‖ = 0."""
    return dot / (norm_v * norm_t) if norm_v > 0 else 0.0


def logit_spread(ut: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Token logit spread (max − min of ũ) + (max − min of c_j, j < N): zero iff every
    sequence puts equal attention on all its tokens (Theorem 4.1's symmetry), exactly.
    ut (R, K), c (R, N) → (R,)."""
    spread = ut.max(1).values - ut.min(1).values
    if c.shape[1] > 1:
        spread = spread + (c[:, :-1].max(1).values - c[:, :-1].min(1).values)
    return spread


def unit_targets(truth: torch.Tensor, dim: int) -> torch.Tensor:
    """Unit directions of f_OPT(X) = P(y | X) and of its elementwise square root along the
    class axis ``dim``, stacked on a new leading axis (2, ...), for :func:`f_distances`."""
    sq = truth.sqrt()
    return torch.stack([truth / truth.norm(dim=dim, keepdim=True), sq / sq.norm(dim=dim, keepdim=True)])


def f_distances(f: torch.Tensor, targets: torch.Tensor, dim: int) -> torch.Tensor:
    """‖u − g‖ averaged over sequences, for each unit target direction g in ``targets``
    (one more leading axis than ``f``), u = f/‖f‖ (0 where f = 0); ``dim``: f's class axis.

    As √(‖u‖² − 2⟨u, g⟩ + 1) (float64: exact to ~1e-8 in the distance; a third of the cost
    of forming u − g)."""
    f = f.double()
    nf2 = f.square().sum(dim)
    cos = (targets * f).sum(dim + 1) * torch.rsqrt(torch.where(nf2 > 0, nf2, 1.0))
    d2 = torch.where(nf2 > 0, 2.0 - 2.0 * cos, 1.0)
    return d2.clamp(min=0.0).sqrt().mean(-1)
