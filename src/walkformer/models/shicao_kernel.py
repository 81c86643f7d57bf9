"""The Shi & Cao step as one C call (``shicao_kernel.c``): what ``ShiCao`` and
``metrics.evaluate`` run by default.

``ShiCao._separable`` + ``ShiCao._grads`` in torch are ~100 small operations per step
(3–15 µs each) around two passes over the tokens. The kernel does the same maths with
one call per step: for each sequence the scatter C[k] = Σ_{j: s_j = k} E_pos[j], Z, h,
f, the loss and its gradient, then the gather into the shared column sums, while the
sequence's tokens are in L1 (see the C file for the summation orders). A second call
computes what ``metrics.evaluate`` needs of a held-out batch (accuracy, KL terms, the
cosines' inner products, the logit spread, var h).

Backends (``BACKEND``, or the ``WALKFORMER_SHICAO`` environment variable):
``c`` (default where a C compiler is found; built once per machine, see ``ckernel.py``)
or ``torch`` (the reference the tests compare against, and the fallback).

Agreement with the torch path: the same formulas, and the same summation order where
torch's is a plain loop (C[k] over positions, Z over tokens, dL/dV over sequences), so
those are bitwise equal in float64; the sums that torch vectorises or hands to BLAS
(V h, the column sums, dL/dũ, the loss) and exp/log (libm vs Sleef) differ in the last
bits (tests/test_shicao_kernel.py states the tolerances).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import torch

from .ckernel import Kernel, simd_flags

BACKEND = os.environ.get("WALKFORMER_SHICAO", "auto")  # auto | c | torch
_SUF = {torch.float32: "f32", torch.float64: "f64"}


def _flags() -> list[str]:
    # -ffp-contract=off: no fused multiply-adds (each product is rounded, as in torch)
    return ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-ffp-contract=off", *simd_flags()]


def _declare(lib) -> None:
    i64, ptr, dbl = ctypes.c_int64, ctypes.c_void_p, ctypes.c_double
    for suf in _SUF.values():
        fn = getattr(lib, "sc_step_" + suf)
        fn.argtypes = [i64] * 4 + [ptr] * 5 + [i64] + [ptr] * 3 + [dbl] + [ptr] * 5 + [i64] + [ptr] * 4
        fn.restype = ctypes.c_int
        fn = getattr(lib, "sc_metrics_" + suf)
        fn.argtypes = [i64] * 4 + [ptr] * 4 + [dbl] + [ptr] * 5
        fn.restype = None


_kernel = Kernel(Path(__file__).with_name("shicao_kernel.c"), _flags, _declare,
                 "using the torch implementation of the Shi & Cao step")


def library():
    """The compiled kernel, or None where it cannot be built (one warning)."""
    return _kernel.library()


def usable(dtype: torch.dtype) -> bool:
    return BACKEND != "torch" and dtype in _SUF and library() is not None


def _p(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _tokens(b) -> torch.Tensor:
    """The batch's tokens as contiguous int32 (B, N-1), cached on the batch."""
    t = b.__dict__.get("_tok32")
    if t is None:
        t = b._tok32 = b.tokens.to(torch.int32).contiguous()
    return t


def step(model, b, eps: float, probe):
    """``(rc, loss, grads, fw)`` of ``model`` (a ShiCao) on the training batch ``b`` and
    the held-out ``probe`` (either may be None); rc != 0: some sequence underflows, the
    rest is meaningless (the caller falls back to torch)."""
    g, (ut, c) = model.geo, model.scores()
    V, A, dt = model.V.contiguous(), (model.A.contiguous() if model.A is not None else None), g.dtype
    K, N, R = g.K, g.N, V.shape[0]
    m = A.shape[1] if A is not None else 0
    B, Bp = (len(b) if b is not None else 0), (len(probe) if probe is not None else 0)
    # one buffer for every output: gV, gA, gRk, ga, h, f, attention
    sizes = [R * K, K * m, K, N, K * Bp, K * Bp, N]
    buf = torch.empty(sum(sizes), dtype=dt)
    gV, gA, gRk, ga, h, f, att = buf.split(sizes)
    loss = ctypes.c_double()
    args = (None, None, None, 0.0) if b is None else (_p(_tokens(b)), _p(b.y), _p(b.w), float(eps))
    rc = getattr(library(), "sc_step_" + _SUF[dt])(
        K, N, R, m, _p(ut), _p(c), _p(g.n), _p(V), _p(A), B, *args,
        ctypes.byref(loss), _p(gV), _p(gA), _p(gRk), _p(ga),
        Bp, _p(_tokens(probe)) if Bp else None, _p(h), _p(f), _p(att))
    grads = {"V": gV.view(R, K)} | ({"A": gA.view(K, m)} if m else {}) | {"Rk": gRk, "a": ga}
    fw = {"h": h.view(K, Bp).T, "f": f.view(K, Bp).T, "attention": att} if Bp else None
    return rc, loss.value, grads, fw


def metrics(fT: torch.Tensor, h: torch.Tensor, y: torch.Tensor, truth: torch.Tensor | None, eps: float,
            V: torch.Tensor, pi: torch.Tensor | None, ut: torch.Tensor, c: torch.Tensor) -> list[float]:
    """[#correct, Σ t log q, Σ_b log Σ_k q, Σ V², Σ V, ⟨V, Πᵀ⟩, logit spread, var_b h (K)]
    of a held-out batch: fT, h (K, B) contiguous, truth (K, B) float64 (see metrics.evaluate)."""
    K, B = fT.shape
    out = torch.empty(7 + K, dtype=torch.float64)
    V = V.contiguous()
    getattr(library(), "sc_metrics_" + _SUF[fT.dtype])(
        K, B, len(c), V.numel(), _p(fT), _p(h), _p(y), _p(truth), float(eps), _p(V), _p(pi), _p(ut), _p(c),
        _p(out))
    return out.tolist()
