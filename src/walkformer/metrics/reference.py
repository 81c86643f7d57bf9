"""The reference transformer's metrics (``models/transformer.py``, trained by
``loop.ReferenceAdapter``) on the test batch, with ``formulas.py``'s formulas; the binary
task's are ``binary.py``'s (the gpt acceleration's, so both paths log the same lines)."""

from __future__ import annotations

import torch

from .binary import binary_metrics
from .formulas import accuracy, cosine, kl_divergence


def value_matrix(model):
    """The paper's V (K, K) of a one-layer, one-head model with the linear head (f = V X S,
    one-hot tokens), else None."""
    sp = model.spec
    if (sp.layers, sp.heads, sp.head, sp.embed) != (1, 1, "linear", "onehot"):
        return None
    return model.head.V.detach()[0]


@torch.no_grad()
def evaluate_reference(model, task, test, cfg, full: bool = True) -> dict:
    """Metrics of the reference ``model`` on the test batch (``loop.Data.test``).

    Next-state tasks: ``test_accuracy`` (:func:`formulas.accuracy`), ``test_loss`` (the
    model's loss), ``kl`` = mean KL(P(y | x) ‖ q) with q the model's predictive law
    (``Transformer.probs``; :func:`formulas.kl_divergence`), ``parent_attention`` (the last
    layer's weight, averaged over heads, from the prediction slot on the parent x_{N−lag}; on
    the QA tasks, which have none, on x_{N−1}, as the Shi & Cao metrics),
    :func:`value_alignment`, and in full lines ``attention`` (that row, every slot) and
    ``patterns`` (the row of every layer and head). The binary task: :func:`binary_metrics`."""
    x, y, _ = test
    f, patterns = model.forward_with_patterns(x)
    if cfg.task.name == "binary":
        p1 = model.probs(f)[..., 1].double()  # (n, N) predicted P(x_{n+1} = 1 | prefix)
        return binary_metrics(p1[None], x[None], [task], {}, full)[0]
    q = model.probs(f, cfg.train.eps).double()  # (B, K): with the loss's ε (the log-eps read-out)
    truth = task.true_conditional(x).double()  # (B, K)
    rows = torch.stack([p[:, :, -1, :].mean(0) for p in patterns])  # (L, H, Nk): the prediction slot's row
    last = rows[-1].mean(0)  # (Nk,)
    out = {"test_accuracy": float(accuracy(f, y, 1)),
           "test_loss": float(model.loss(f, y, None, cfg.train.eps)), "kl": float(kl_divergence(truth, q)),
           "parent_attention": float(last[task.N - 2 if task.parent_index is None else task.parent_index])}
    out |= value_alignment(model, task)
    if full:
        out["attention"] = last.tolist()
        out["patterns"] = rows.tolist()
    return out


def value_alignment(model, task) -> dict:
    """For a one-layer, one-head model whose V maps states to states (the paper's
    f = V X S): ``value_cosine``, ``value_cosine_sqrt`` and ``value_ones_cosine``
    (:func:`formulas.cosine` of ⟨V, T⟩_F, ‖V‖_F, ‖T‖_F for T = Πᵀ, (Πᵀ)^{∘½} and 1 1ᵀ), and V itself;
    nothing otherwise."""
    V = value_matrix(model)
    if V is None or getattr(task, "Pi", None) is None or V.shape != (task.K, task.K):
        return {}
    V = V.detach().double().reshape(-1)
    PiT = torch.from_numpy(task.Pi).T
    targets = {"value_cosine": PiT, "value_cosine_sqrt": PiT.sqrt(),
               "value_ones_cosine": torch.ones(task.K, task.K, dtype=torch.float64)}
    nv = float(V.norm())  # one model: the scalar form (its order of sums kept: the logged numbers unchanged)
    out = {k: cosine(float(V @ T.reshape(-1)), nv, float(T.norm())) for k, T in targets.items()}
    return out | {"V": V.reshape(task.K, task.K).tolist()}
