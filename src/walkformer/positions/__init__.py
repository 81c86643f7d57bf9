"""The position schemes of the reference transformer (``model.pos``): one module each.

A scheme module is the whole of a scheme: adding ``positions/my_scheme.py`` adds
``model.pos=my-scheme`` to the keys, the checks, ``walkformer keys`` and docs/keys.md, and
the transformer (``models/transformer.py``) uses it through the hooks below. Its module
level imports no torch (the key registry reads it; the functions import torch). It holds:

- its docstring: the first line is the one-line description in ``walkformer keys``, the
  rest the maths;
- ``KIND``: how positions enter the model (``RANK``: its place in the list):
    ``concatenated``  x̃_i = [t_i; p_i] with ``table(N, M, dtype)`` → (N, M), the rows p_i
                      (width M = ``model.M`` when ``USES`` has it, else 0); the stream stays
                      factorised (token part + position part), as in the paper;
    ``added``         x̃_i = t_i + p_i with ``table(N, D_t, dtype)`` → (N, D_t) fixed, or
                      ``LEARNED = True``: a parameter ``pos_embed.W_pos`` (N, D_t);
    ``rotary``        nothing added; ``rotate(x, slots)`` turns queries and keys (…, S, n) by
                      their slots (0-based);
- ``USES``: the model keys it reads (``model.M``): they apply with it, the others are refused;
- optionally ``check(m, t, D)``: a cross-key rule on the model and task sections and the
  stream width D, returning ``(key, value, allowed)`` for a one-line error, or None.
"""

from __future__ import annotations

import importlib
import pkgutil

KINDS = ("concatenated", "added", "rotary")


def _discover() -> dict:
    mods = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)
            if not m.name.startswith("_")]
    for m in mods:
        if m.KIND not in KINDS:
            raise ValueError(f"{m.__name__}: KIND {m.KIND!r}, allowed {KINDS}")
    return {m.__name__.rsplit(".", 1)[1].replace("_", "-"): m for m in sorted(mods, key=lambda m: (m.RANK, m.__name__))}


SCHEMES = _discover()  # model.pos value -> its module
POSITIONS = tuple(SCHEMES)  # the values of model.pos, in RANK order


def scheme(name: str):
    """The module of ``model.pos=name``."""
    return SCHEMES[name]


def kind(name: str) -> str:
    return SCHEMES[name].KIND


def using(key: str) -> tuple[str, ...]:
    """The schemes that read the model key ``key`` (their ``USES``)."""
    return tuple(p for p, m in SCHEMES.items() if key in m.USES)


def of_kind(k: str) -> tuple[str, ...]:
    return tuple(p for p, m in SCHEMES.items() if m.KIND == k)


def describe(name: str) -> str:
    """The scheme's one-line description (the first line of its module's docstring)."""
    return (SCHEMES[name].__doc__ or name).strip().splitlines()[0]


def check(m, t, D: int) -> tuple | None:
    """The chosen scheme's own rule on the config's model and task sections (None: fine)."""
    rule = getattr(SCHEMES[m.pos], "check", None)
    return rule(m, t, D) if rule else None
