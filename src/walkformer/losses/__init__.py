"""The losses of the reference transformer (``model.loss``): one module each.

A loss module is the whole of a loss: adding ``losses/my_loss.py`` adds
``model.loss=my-loss`` to the keys, the checks, ``walkformer keys`` and docs/keys.md, and
``Transformer.loss`` / ``Transformer.probs`` use it. Its module level imports no torch (the
key registry reads it; the functions import torch). It holds:

- its docstring: the first line is the one-line description in ``walkformer keys``;
- ``RANK``: its place in the list; ``USES``: the keys it reads (``train.eps``);
  ``ONE_LOGIT = True`` if the read-out is one logit (bce), not K scores;
- ``per_sample(f, y, eps)``: ℓ(f_b, y_b) for scores f (..., K) (or (...,) with one logit)
  and labels y (...,);
- ``probs(f, eps)``: the predictive distribution (..., K) the metrics score (KL, accuracy);
- optionally ``check(m, K)``: a rule on the model section and the number of states,
  returning ``(key, value, allowed)`` for a one-line error, or None.
"""

from __future__ import annotations

import importlib
import pkgutil


def _discover() -> dict:
    mods = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)
            if not m.name.startswith("_")]
    return {m.__name__.rsplit(".", 1)[1].replace("_", "-"): m for m in sorted(mods, key=lambda m: (m.RANK, m.__name__))}


LOSSES_BY_NAME = _discover()  # model.loss value -> its module
LOSSES = tuple(LOSSES_BY_NAME)  # the values of model.loss, in RANK order


def loss(name: str):
    """The module of ``model.loss=name``."""
    return LOSSES_BY_NAME[name]


def using(key: str) -> tuple[str, ...]:
    """The losses that read the key ``key`` (their ``USES``)."""
    return tuple(n for n, m in LOSSES_BY_NAME.items() if key in m.USES)


def one_logit(name: str) -> bool:
    return getattr(LOSSES_BY_NAME[name], "ONE_LOGIT", False)


def describe(name: str) -> str:
    """The loss's one-line description (the first line of its module's docstring)."""
    return (LOSSES_BY_NAME[name].__doc__ or name).strip().splitlines()[0]


def check(m, K) -> tuple | None:
    """The chosen loss's own rule (None: fine); K is None for a matrix file not read yet."""
    rule = getattr(LOSSES_BY_NAME[m.loss], "check", None)
    return rule(m, K) if rule else None
