"""The metrics of :func:`walkformer.metrics.evaluate` for R models at once.

Same definitions, computed on (R, ·) tensors from the batched forward
(``BatchedShiCao.forward``) with one conversion to Python numbers for all models:
evaluating model by model costs more than a training step of the whole batch. The
tests compare every logged line with ``loop.run``'s (1e-6 in float64).
"""

from __future__ import annotations

import torch

from .metrics import f_distances, unit_targets


def truths(tasks, test) -> torch.Tensor:
    """P(y | x) of every test sequence of every model, (R, B, K) float64 (fixed for a run)."""
    if test.shared:
        return tasks[0].true_conditional(test.parts[0].tokens).double().to(test.y.device)[None].expand(len(tasks), -1, -1)
    return torch.stack([t.true_conditional(b.tokens) for t, b in zip(tasks, test.parts)]).double().to(test.y.device)


def _cosines(V: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """The Frobenius cosine for each model: ⟨V_r, T_r⟩_F / (‖V_r‖_F ‖T_r‖_F), 0 when a norm is 0; (R,)."""
    na, nb = V.flatten(1).norm(dim=1).double(), T.flatten(1).norm(dim=1).double()
    dot = (V * T).flatten(1).sum(1).double()
    return torch.where((na > 0) & (nb > 0), dot / (na * nb), 0.0)


def evaluate_many(tasks, test, fw: dict, V: torch.Tensor, ut: torch.Tensor, c: torch.Tensor, eps: torch.Tensor,
                  truth: torch.Tensor, rows: list[int], full: bool, directions: bool = False) -> dict[int, dict]:
    """``metrics.evaluate`` of models ``rows`` on their test batches (a ``Batches``).

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
    acc = (f.argmax(2) == test.y).double().mean(1)  # (R,)
    parent = torch.tensor([t.parent_index if t.parent_index is not None else att.shape[1] - 2 for t in tasks], device=dev)
    parent_att = att.gather(1, parent[:, None])[:, 0].double()  # (R,)
    square = tuple(V.shape[1:]) == (K, K)
    has_pi = [t.Pi is not None for t in tasks]
    if square:
        PiT = torch.stack([torch.from_numpy(t.Pi).T if t.Pi is not None else torch.zeros(K, K, dtype=torch.float64)
                           for t in tasks]).to(V.dtype).to(dev)  # (R, K, K)
        vcos, vsq, ones = _cosines(V, PiT), _cosines(V, PiT.sqrt()), _cosines(V, torch.ones_like(V))
    else:
        vcos = vsq = ones = torch.zeros(R, dtype=torch.float64, device=dev)
    spread = ut.max(1).values - ut.min(1).values  # (R,)
    if c.shape[1] > 1:
        spread = spread + c[:, :-1].max(1).values - c[:, :-1].min(1).values
    q = torch.clamp(f.double(), min=0.0) + eps.double()[:, None, None]  # (R, B, K), > 0
    logq = torch.log(q) - torch.log(q.sum(2, keepdim=True))  # (R, B, K)
    kl = (torch.xlogy(truth, truth) - truth * logq).sum((1, 2)) / B  # (R,)
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
