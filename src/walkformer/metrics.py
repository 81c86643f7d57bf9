"""Metrics of a trained model, computed on held-out sequences.

All are plain floats or lists so a line of ``metrics.jsonl`` is one ``json.dumps``.

- ``test_accuracy``: argmax of f (ties to the smallest label, Def. 2.1) equals y.
- ``attention``: mean over test sequences of S_j, j = 1..N (slot N is the empty slot).
- ``parent_attention``: mean S_{N-1}, the weight on the direct parent x_{N-1}.
- ``value_cosine``: ⟨V, Π^T⟩_F / (‖V‖_F ‖Π^T‖_F)  (Theorem 3.1, item 3).
- ``value_cosine_sqrt``: the same against (Π^T)^{∘½}, the elementwise square root: the
  direction V tends to under the ε-log-loss for p ≠ ½ (docs/value-law.md).
- ``f_opt_distance`` (only with ``eval.f_distance=true``): mean over test sequences of
  ‖f/‖f‖ − f_OPT/‖f_OPT‖‖₂, f_OPT(X) = P(y | X) (= Π[x_{N−1}, :] for a walk; Theorem 3.1
  item 2, inferred form), with f/‖f‖ := 0 when f = 0; ``f_sqrt_distance``: the same
  against f_OPT^{∘½} / ‖f_OPT^{∘½}‖.
- ``value_ones_cosine``: the same against the all-ones matrix (Theorem 4.1: V ∝ 1 1^T).
- ``token_logit_spread``: (max − min of ũ) + (max − min of c_j, j < N). Zero iff every
  sequence puts equal attention on all its tokens (Theorem 4.1's symmetry), exactly.
- ``kl``: mean over test sequences of KL(P(y | X) ‖ q), with q the model's output made a
  distribution as q_k = (f_k⁺ + ε) / Σ_j (f_j⁺ + ε), f⁺ = max(f, 0), ε the loss's
  constant: the same ε that makes the loss finite keeps q > 0, and f = 0 gives the
  uniform q. (The paper does not say how it normalised; see docs/results-random-walks.md.)
- ``h_example``, ``h_var``: the weighted-average token h = X S of the first test
  sequence and the per-dimension variance of h across test sequences (Fig. 13).
"""

from __future__ import annotations

import torch

from .ops import shicao_kernel


def _truth(task, batch):
    """P(y | x) of the batch, (K, B) sequence-last, and Σ t log t: fixed per batch, so cached on it."""
    if getattr(batch, "_truth", None) is None:
        t = task.true_conditional(batch.tokens).double()  # (B, K)
        batch._truth = (t.T.contiguous(), float(torch.xlogy(t, t).sum()))
    return batch._truth


def _pi_T(task, dtype):
    """(Πᵀ flattened (K·K,), ‖Πᵀ‖_F, (Πᵀ)^{∘½} / ‖(Πᵀ)^{∘½}‖_F flattened), cached on the
    task; None when the task has no Π."""
    if task.Pi is None:
        return None
    cache = task.__dict__.setdefault("_pi_T", {})
    if dtype not in cache:
        pit = torch.from_numpy(task.Pi).T.reshape(-1)
        sq = pit.sqrt()
        cache[dtype] = (pit.to(dtype), float(pit.norm()), (sq / sq.norm()).to(dtype))
    return cache[dtype]


def unit_targets(truth: torch.Tensor, dim: int) -> torch.Tensor:
    """Unit directions of f_OPT(X) = P(y | X) and of its elementwise square root along the
    class axis ``dim``, stacked on a new leading axis (2, ...), for :func:`f_distances`."""
    sq = truth.sqrt()
    return torch.stack([truth / truth.norm(dim=dim, keepdim=True), sq / sq.norm(dim=dim, keepdim=True)])


def _targets(task, batch, tT) -> torch.Tensor:
    """:func:`unit_targets` of a test batch, (2, K, B): fixed per batch, so cached on it."""
    if getattr(batch, "_targets", None) is None:
        batch._targets = unit_targets(tT, 0)
    return batch._targets


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


def evaluate(model, task, batch, eps: float, full: bool = True, fw: dict | None = None,
             directions: bool = False) -> dict:
    """Metrics of ``model`` on the held-out ``batch`` (a :class:`walkformer.models.Batch`).
    ``directions`` (``eval.f_distance``): also the f-distances, ~40 µs at 1000 test
    sequences, ~17% of a 0.23 ms Fig. 4 step, so only where asked (value_cosine_sqrt: ~2 µs, 1%).

    Works sequence-last (f.T is (K, B)): the reductions over K then run along contiguous
    memory for the fast path, whose forward returns (B, K) views of (K, B) tensors.
    ``fw``: ``model.forward(batch)`` when the caller already has it."""
    fw = model.forward(batch) if fw is None else fw
    f, h, att = fw["f"], fw["h"], fw["attention"]  # (B, K), (B, K), (N,)
    tT, tlogt = _truth(task, batch)
    V = model.V
    square = V.shape == (task.K, task.K)
    ut, c = model.scores()
    parent = task.parent_index if task.parent_index is not None else -2
    att_list = att.tolist()
    if shicao_kernel.usable(f.dtype, f.device):  # one C call (models/shicao_kernel.py)
        pi = _pi_T(task, torch.float64) if square else None
        n_ok, tlq, lsq, vv, vsum, vp, spread, *h_var = shicao_kernel.metrics(
            f, h, batch.y, tT, eps, V, pi[0] if pi else None, ut, c)
        acc, kl, vp = n_ok / len(batch), (tlogt - tlq + lsq) / len(batch), [vp]
    else:
        pi = _pi_T(task, V.dtype) if square else None  # ((K·K,), ‖Πᵀ‖)
        acc, kl, spread, vv, vsum, *vp = _scalars(f.T, batch, tT, tlogt, eps, V.reshape(-1), pi, ut, c)
        h_var = h.T.var(1, unbiased=False).tolist() if full else None
    nv = vv ** 0.5
    out = {"test_accuracy": acc, "parent_attention": att_list[parent], "token_logit_spread": spread, "kl": kl}
    # cosines ⟨V, Πᵀ⟩_F / (‖V‖ ‖Πᵀ‖), ⟨V, (Πᵀ)^{∘½}⟩_F / (‖V‖ ‖(Πᵀ)^{∘½}‖) and ⟨V, 1 1ᵀ⟩_F / (‖V‖ K)
    out["value_cosine"] = (vp[0] / (nv * pi[1]) if nv > 0 else 0.0) if pi is not None else None
    sq = _pi_T(task, V.dtype)[2] if pi is not None else None
    out["value_cosine_sqrt"] = (float(V.reshape(-1) @ sq) / nv if nv > 0 else 0.0) if sq is not None else None
    out["value_ones_cosine"] = (vsum / (nv * task.K) if nv > 0 else 0.0) if square else None
    if directions:
        out["f_opt_distance"], out["f_sqrt_distance"] = f_distances(f.T, _targets(task, batch, tT), 0).tolist()
    if full:
        out["attention"] = att_list
        out["h_example"] = h[0].tolist()
        out["h_var"] = h_var
        out["V"] = V.tolist()
    return out


def _scalars(fT, batch, tT, tlogt, eps, v, pi, ut, c) -> list[float]:
    """[accuracy, KL, logit spread, ‖V‖², Σ V, ⟨V, Πᵀ⟩?] in torch (without the C kernel)."""
    pred = fT.max(0).indices  # (B,) first maximum: ties go to the smallest label (Def. 2.1)
    # KL(t ‖ q) = Σ t log t − Σ t log q + Σ_b log Σ_k q_bk, since Σ_k t_bk = 1
    q = torch.clamp(fT.double(), min=0.0) + eps  # (K, B), > 0
    kl = (tlogt - (tT * torch.log(q)).sum() + torch.log(q.sum(0)).sum()) / len(batch)
    lo, hi = ut.aminmax()
    spread = hi - lo
    if len(c) > 1:
        lo, hi = c[:-1].aminmax()
        spread = spread + (hi - lo)
    scalars = [(pred == batch.y).double().mean(), kl, spread, v @ v, v.sum()] + ([v @ pi[0]] if pi is not None else [])
    return torch.stack([x.double() for x in scalars]).tolist()  # one conversion
