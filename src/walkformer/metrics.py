"""Metrics of a trained model, computed on held-out sequences.

All are plain floats or lists so a line of ``metrics.jsonl`` is one ``json.dumps``.

- ``test_accuracy``: argmax of f (ties to the smallest label, Def. 2.1) equals y.
- ``attention``: mean over test sequences of S_j, j = 1..N (slot N is the empty slot).
- ``parent_attention``: mean S_{N-1}, the weight on the direct parent x_{N-1}.
- ``value_cosine``: ⟨V, Π^T⟩_F / (‖V‖_F ‖Π^T‖_F)  (Theorem 3.1, item 3).
- ``value_ones_cosine``: the same against the all-ones matrix (Theorem 4.1: V ∝ 1 1^T).
- ``token_logit_spread``: (max − min of ũ) + (max − min of c_j, j < N). Zero iff every
  sequence puts equal attention on all its tokens (Theorem 4.1's symmetry), exactly.
- ``kl``: mean over test sequences of KL(P(y | X) ‖ q), with q the model's output made a
  distribution as q_k = (f_k⁺ + ε) / Σ_j (f_j⁺ + ε), f⁺ = max(f, 0), ε the loss's
  constant: the same ε that makes the loss finite keeps q > 0, and f = 0 gives the
  uniform q. (The paper does not say how it normalised; see README.)
- ``h_example``, ``h_var``: the weighted-average token h = X S of the first test
  sequence and the per-dimension variance of h across test sequences (Fig. 13).
"""

from __future__ import annotations

import torch


def cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    na, nb = float(A.norm()), float(B.norm())
    return float((A * B).sum()) / (na * nb) if na > 0 and nb > 0 else 0.0


def kl_to_truth(f: torch.Tensor, truth: torch.Tensor, eps: float) -> float:
    q = torch.clamp(f.double(), min=0.0) + eps  # (B, K), > 0
    logq = torch.log(q) - torch.log(q.sum(1, keepdim=True))  # (B, K)
    t = truth.double()  # (B, K)
    return float((torch.xlogy(t, t) - t * logq).sum()) / len(t)  # 0 log 0 = 0


def evaluate(model, task, batch, eps: float, full: bool = True) -> dict:
    """Metrics of ``model`` on the held-out ``batch`` (a :class:`walkformer.models.Batch`)."""
    fw = model.forward(batch)
    f, h, att = fw["f"], fw["h"], fw["attention"]
    out = {"test_accuracy": float((f.argmax(1) == batch.y).double().mean())}
    out["parent_attention"] = float(att[task.parent_index]) if task.parent_index is not None else float(att[-2])
    V = model.V
    square = V.shape == (task.K, task.K)
    out["value_cosine"] = cosine(V, torch.from_numpy(task.Pi).T.to(V.dtype)) if task.Pi is not None and square else None
    out["value_ones_cosine"] = cosine(V, torch.ones_like(V)) if square else None
    ut, c = model.scores()
    out["token_logit_spread"] = float(ut.max() - ut.min() + c[:-1].max() - c[:-1].min()) if len(c) > 1 else float(ut.max() - ut.min())
    out["kl"] = kl_to_truth(f, task.true_conditional(batch.tokens), eps)
    if full:
        out["attention"] = att.tolist()
        out["h_example"] = h[0].tolist()
        out["h_var"] = h.var(0, unbiased=False).tolist()
        out["V"] = V.tolist()
    return out
