"""Accelerations: C kernels that compute what a model's torch code computes, faster.

A model never names them. Its torch code is the reference; where an acceleration serves
the configuration at hand, that code calls the kernel instead, with the same maths (the
sums in another order: round-off, stated per kernel in its tests). Each one is kept
because it pays on our machines' CPUs (docs/ops.md: the measured ratios).

================  ===========================================  ==============================
name              serves                                       replaces (the reference)
================  ===========================================  ==============================
shicao_step       ``models/shicao.ShiCao`` (the Shi & Cao      its torch step: scores, the
                  fast path, any head, pos, normalize) and     softmax, loss, gradients, the
                  ``metrics.evaluate``: one C call per step    update; evaluate's metrics
causal_attention  ``models/gpt.py``, ``batched_gpt.py``:       torch's fused
                  causal softmax attention in every layer      ``scaled_dot_product_attention``
                  (layer 1 too when token_attention is off)
token_attention   the gpt models' first layer on binary        gathering q, k, v, then
                  tokens: queries, keys, values from (2, N)    ``causal_attention``
                  tables, scores shared by the batch
================  ===========================================  ==============================

Chosen automatically: an acceleration runs when it is enabled (below), the tensors are
float32 or float64 on the CPU (head size <= 64 for attention), its C kernel builds with
the system compiler (once per machine, ``ckernel.py``; else one warning and the torch
code), and nothing listens on a hook it would skip (the gpt models' ``hook_q``, ...,
``hook_pattern``: then the torch code runs, so a hook never changes which numbers a
model computes beyond round-off).

One switch, the environment variable ``WALKFORMER_OPS`` (read at each call, so a test
can set it), or :func:`use` in Python:

    WALKFORMER_OPS=auto              every acceleration (the default; also "")
    WALKFORMER_OPS=reference         none: the plain torch code
    WALKFORMER_OPS=-token_attention  all but the ones named (comma-separated, each with -)
    WALKFORMER_OPS=shicao_step       only the ones named (comma-separated)

An unknown name is a one-line ``ConfigError``.
"""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager

from ..config import ConfigError

NAMES = ("shicao_step", "causal_attention", "token_attention")
_forced: list[str] = []  # the innermost use(...), over the environment


@functools.lru_cache(maxsize=32)
def parse(spec: str) -> frozenset[str]:
    """The accelerations that ``spec`` (a ``WALKFORMER_OPS`` value) enables."""
    spec = spec.strip()
    if spec in ("", "auto"):
        return frozenset(NAMES)
    if spec == "reference":
        return frozenset()
    items = [s.strip() for s in spec.split(",")]
    names = [s.removeprefix("-") for s in items]
    minus = {s.startswith("-") for s in items}
    bad = [n for n in names if n not in NAMES]
    if bad or len(minus) > 1:
        why = f"unknown {bad[0]!r}" if bad else "mixes NAME and -NAME"
        raise ConfigError(f"WALKFORMER_OPS={spec}: {why}; expected auto, reference, a comma-separated list of "
                          f"names or of -names, names from {', '.join(NAMES)}")
    return frozenset(NAMES) - set(names) if minus == {True} else frozenset(names)


def enabled(name: str) -> bool:
    """Whether the acceleration ``name`` may run (the switch; the kernel's own ``usable``
    adds dtype, device and whether it builds)."""
    return name in parse(_forced[-1] if _forced else os.environ.get("WALKFORMER_OPS", ""))


@contextmanager
def use(spec: str):
    """``with ops.use("reference"):`` runs the block with ``spec`` instead of the
    environment's ``WALKFORMER_OPS`` (benchmarks and tests; this process only: worker
    processes of a sweep see the environment variable)."""
    parse(spec)  # a bad spec fails here, before the block
    _forced.append(spec)
    try:
        yield
    finally:
        _forced.pop()
