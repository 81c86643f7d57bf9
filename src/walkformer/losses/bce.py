"""one logit with a sigmoid read-out ('Attention with Markov'; K = 2, model.head=unembed)

    ℓ(f, y) = −y log σ(f) − (1 − y) log(1 − σ(f));  q = [1 − σ(f), σ(f)]
"""

USES = ()
RANK = 2
ONE_LOGIT = True


def per_sample(f, y, eps):
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(f, y.to(f.dtype), reduction="none")


def probs(f, eps):
    import torch

    p1 = torch.sigmoid(f)
    return torch.stack([1 - p1, p1], -1)


def check(m, K):
    from . import LOSSES

    others = " or ".join(n for n in LOSSES if n != "bce")
    if K not in (2, None):
        return "model.loss", m.loss, f"{others} with K = {K} states (bce is for K = 2)"
    if m.head != "unembed":
        return "model.loss", m.loss, f"{others} with model.head={m.head} (bce reads one logit: model.head=unembed)"
    return None
