"""The Shi & Cao model's metrics on held-out sequences: :func:`evaluate` for one model
(its scalars in one call of the C kernel ``ops/shicao_kernel.metrics`` where usable, else
torch), :func:`evaluate_many` for R batched models (``models/batched.py``). The formulas
are ``formulas.py``'s. All are plain floats or lists so a line of ``metrics.jsonl`` is one
``json.dumps``.

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

from ..ops import shicao_kernel
from .formulas import (accuracy, cosine, f_distances, frobenius_cosines, kl_log_eps, logit_spread,
                       unit_targets)


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


def _targets(task, batch, tT) -> torch.Tensor:
    """:func:`formulas.unit_targets` of a test batch, (2, K, B): fixed per batch, so cached on it."""
    if getattr(batch, "_targets", None) is None:
        batch._targets = unit_targets(tT, 0)
    return batch._targets


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
        acc, kl, vp = n_ok / len(batch), (tlogt - tlq + lsq) / len(batch), [vp]  # kl_log_eps's sums
    else:
        pi = _pi_T(task, V.dtype) if square else None  # ((K·K,), ‖Πᵀ‖)
        acc, kl, spread, vv, vsum, *vp = _scalars(f.T, batch, tT, tlogt, eps, V.reshape(-1), pi, ut, c)
        h_var = h.T.var(1, unbiased=False).tolist() if full else None
    nv = vv ** 0.5
    out = {"test_accuracy": acc, "parent_attention": att_list[parent], "token_logit_spread": spread, "kl": kl}
    # cosines ⟨V, Πᵀ⟩_F / (‖V‖ ‖Πᵀ‖), ⟨V, (Πᵀ)^{∘½}⟩_F / (‖V‖ ‖(Πᵀ)^{∘½}‖) and ⟨V, 1 1ᵀ⟩_F / (‖V‖ K)
    out["value_cosine"] = cosine(vp[0], nv, pi[1]) if pi is not None else None
    sq = _pi_T(task, V.dtype)[2] if pi is not None else None  # already a unit vector
    out["value_cosine_sqrt"] = cosine(float(V.reshape(-1) @ sq), nv, 1.0) if sq is not None else None
    out["value_ones_cosine"] = cosine(vsum, nv, task.K) if square else None
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
    acc = accuracy(fT, batch.y, 0)  # fT (K, B)
    kl = kl_log_eps(fT, tT, eps, 0, tlogt)
    spread = logit_spread(ut[None], c[None])[0]
    scalars = [acc, kl, spread, v @ v, v.sum()] + ([v @ pi[0]] if pi is not None else [])
    return torch.stack([x.double() for x in scalars]).tolist()  # one conversion


def truths(tasks, test) -> torch.Tensor:
    """P(y | x) of every test sequence of every model, (R, B, K) float64 (fixed for a run)."""
    if test.shared:
        return tasks[0].true_conditional(test.parts[0].tokens).double().to(test.y.device)[None].expand(len(tasks), -1, -1)
    return torch.stack([t.true_conditional(b.tokens) for t, b in zip(tasks, test.parts)]).double().to(test.y.device)


def evaluate_many(tasks, test, fw: dict, V: torch.Tensor, ut: torch.Tensor, c: torch.Tensor, eps: torch.Tensor,
                  truth: torch.Tensor, rows: list[int], full: bool, directions: bool = False) -> dict[int, dict]:
    """:func:`evaluate` of models ``rows`` on their test batches (a ``Batches``).

    **Arguments:**
    - `fw`: the batched forward on ``test``: h, f (R, B, K), attention (R, N).
    - `V`, `ut`, `c`: value matrices (R, K, K), token and position logits (R, K), (R, N).
    - `eps` (R,): the loss constants; `truth`: :func:`truths`.
    - `directions`: also the f-distances (``eval.f_distance``).

    **Returns:** {r: metrics line} for r in ``rows``.
    """
    f, h, att = fw["f"], fw["h"], fw["attention"]
    R, B, K = f.shape
    dev = f.device
    acc = accuracy(f, test.y, 2)  # (R,)
    parent = torch.tensor([t.parent_index if t.parent_index is not None else att.shape[1] - 2 for t in tasks], device=dev)
    parent_att = att.gather(1, parent[:, None])[:, 0].double()  # (R,)
    square = tuple(V.shape[1:]) == (K, K)
    has_pi = [t.Pi is not None for t in tasks]
    if square:
        PiT = torch.stack([torch.from_numpy(t.Pi).T if t.Pi is not None else torch.zeros(K, K, dtype=torch.float64)
                           for t in tasks]).to(V.dtype).to(dev)  # (R, K, K)
        vcos, vsq, ones = frobenius_cosines(V, PiT), frobenius_cosines(V, PiT.sqrt()), frobenius_cosines(V, torch.ones_like(V))
    else:
        vcos = vsq = ones = torch.zeros(R, dtype=torch.float64, device=dev)
    spread = logit_spread(ut, c)  # (R,)
    kl = kl_log_eps(f, truth, eps.double()[:, None, None], 2)  # (R,)
    sel = torch.tensor(rows, device=dev)
    cols = [acc, parent_att, vcos, vsq, ones, spread.double(), kl]
    if directions:  # unit f_OPT = P(y | X) and its square root, (2, R, B, K)
        cols += list(f_distances(f, unit_targets(truth, 2), 2))
    scalars = torch.stack(cols)[:, sel].tolist()  # (7 or 9, len(rows))
    if full:
        more = [x[sel].tolist() for x in (att, h[:, 0], h.var(1, unbiased=False), V)]
    out = {}
    for i, r in enumerate(rows):
        a, p, vc, vs, o, s, k, *fd = (col[i] for col in scalars)
        line = {"test_accuracy": a, "parent_attention": p, "value_cosine": vc if square and has_pi[r] else None,
                "value_cosine_sqrt": vs if square and has_pi[r] else None,
                "value_ones_cosine": o if square else None, "token_logit_spread": s, "kl": k}
        if directions:
            line |= {"f_opt_distance": fd[0], "f_sqrt_distance": fd[1]}
        if full:
            line |= dict(zip(("attention", "h_example", "h_var", "V"), (m[i] for m in more)))
        out[r] = line
    return out
