"""Causal softmax attention for the ``gpt`` models, forward and backward, without the
masked upper triangle (what ``models/gpt.py`` and ``models/batched_gpt.py`` call).

    s_{n,i} = ⟨q_n, k_i⟩/√dh  (i ≤ n),   p_{n,·} = softmax_i(s_{n,·}),   o_n = Σ_{i≤n} p_{n,i} v_i
    backward, with D_n = ⟨dO_n, o_n⟩ = Σ_i p_{n,i} ⟨dO_n, v_i⟩:
    dS_{n,i} = p_{n,i}(⟨dO_n, v_i⟩ − D_n),  dq_n = Σ_i dS_{n,i} k_i/√dh,
    dk_i = Σ_{n≥i} dS_{n,i} q_n/√dh,         dv_i = Σ_{n≥i} p_{n,i} dO_n

Why: at the papers' setting (head size 8, N = 1024, batch 16, one CPU thread) torch's
fused ``scaled_dot_product_attention`` was ~94% of a training step (3–4 steps/s). With
a head size of 8 every product is a thin matmul, so BLAS runs far below its peak and
the step is bound by passes over the N² scores. Backends (``bench/bench_ops.py`` compares
them):

- ``c``, the acceleration ``causal_attention`` (``ops/__init__.py``; where a C compiler
  is found, unless ``WALKFORMER_OPS`` turns it off): ``causal_attention.c``, four query rows
  at a time (a sequence's result does not depend on its batch), built once per machine into ``~/.cache/walkformer`` (``$XDG_CACHE_HOME``)
  with the system's ``cc``; the forward saves p (B·H, N, N + pad, only i ≤ n touched)
  for the backward, which hands the buffer back for the next step's forward (so the
  graph allows one backward: ``retain_graph`` for a second one raises). float32 and float64, head size ≤ 64, CPU tensors.
- ``sdpa``: torch's fused kernel (the reference: used otherwise, e.g. without a
  compiler or for tensors not on the CPU). A torch version that computed only the keys
  up to each query block's last one ran 1.5x slower than it here and was removed.

Same inputs give the same bits (fixed loop order). The backends agree with the
explicit softmax to round-off (tests/test_attention.py states the tolerances).
"""

from __future__ import annotations

import ctypes
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from . import enabled
from .ckernel import Kernel, simd_flags

_SRC = Path(__file__).with_name("causal_attention.c")
_free: list[torch.Tensor] = []  # p buffers whose backward is done, reused by the next forward
POOL = 8  # at most this many kept


def _flags() -> list[str]:
    return ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math", *simd_flags()]


def _declare(lib) -> None:
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for suf, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        getattr(lib, "attn_fwd_" + suf).argtypes = [i64, i64, i64, real] + [ptr] * 5
        getattr(lib, "attn_bwd_" + suf).argtypes = [i64, i64, i64, real] + [ptr] * 9
        getattr(lib, "row_stride_" + suf).argtypes = [i64]
        getattr(lib, "row_stride_" + suf).restype = i64


_kernel = Kernel(_SRC, _flags, _declare, "using torch's scaled_dot_product_attention")  # build/load: ckernel.py
_build = _kernel.build


def library():
    """The compiled kernel (ctypes), or None where it cannot be built (with a warning)."""
    return _kernel.library()


def _buffer(shape: tuple, dtype: torch.dtype) -> torch.Tensor:
    """A p buffer from the pool, or a new one. Reuse matters: a fresh 68 MB buffer at
    N = 1024 costs more in first-touch page faults than the forward kernel itself."""
    for j, t in enumerate(_free):
        if t.shape == shape and t.dtype == dtype:
            return _free.pop(j)
    return torch.empty(shape, dtype=dtype)


def _ptr(t: torch.Tensor | None):
    return None if t is None else ctypes.c_void_p(t.data_ptr())


class _CKernel(torch.autograd.Function):
    """q, k, v (BH, N, dh) contiguous, float32 or float64 -> o (BH, N, dh)."""

    @staticmethod
    def forward(ctx, q, k, v):
        lib, (BH, N, dh) = library(), q.shape
        suf = "f32" if q.dtype == torch.float32 else "f64"
        grad = any(ctx.needs_input_grad)
        o = torch.empty_like(q)  # (BH, N, dh)
        P = _buffer((BH, N, getattr(lib, "row_stride_" + suf)(N)), q.dtype) if grad else None  # (BH, N, Np)
        rc = getattr(lib, "attn_fwd_" + suf)(BH, N, dh, 1 / math.sqrt(dh), *map(_ptr, (q, k, v, o, P)))
        if rc:
            raise MemoryError(f"causal attention kernel failed (code {rc})")
        if grad:
            ctx.save_for_backward(q, k, v, o)
            ctx.P = P
        return o

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dO):
        q, k, v, o = ctx.saved_tensors
        P, ctx.P = ctx.P, None
        if P is None:
            raise RuntimeError("causal attention: a second backward through the same graph is not supported")
        BH, N, dh = q.shape
        suf = "f32" if q.dtype == torch.float32 else "f64"
        dO = dO.contiguous()  # a name keeps it alive through the call (a temporary would be freed first)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)  # (BH, N, dh)
        rc = getattr(library(), "attn_bwd_" + suf)(BH, N, dh, 1 / math.sqrt(dh),
                                                   *map(_ptr, (q, k, v, o, P, dO, dq, dk, dv)))
        if rc:
            raise MemoryError(f"causal attention kernel failed (code {rc})")
        _free.append(P)
        del _free[:-POOL]
        return dq, dk, dv


def backend_for(q: torch.Tensor) -> str:
    """``c`` where the C kernel runs q (the switch, dtype, device, head size, a compiler),
    else ``sdpa``."""
    if (enabled("causal_attention") and q.device.type == "cpu" and q.dtype in (torch.float32, torch.float64)
            and q.shape[-1] <= 64 and library() is not None):
        return "c"
    return "sdpa"


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ/√dh + causal mask) v for q, k, v (..., N, dh) -> (..., N, dh)."""
    how = backend_for(q)
    if how == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    shape = q.shape
    q, k, v = (t.reshape(-1, *shape[-2:]).contiguous() for t in (q, k, v))  # (BH, N, dh)
    return _CKernel.apply(q, k, v).view(shape)


if __name__ == "__main__":  # python -m walkformer.ops.causal_attention: build and say where
    print(_build() if library() else "no C kernel", file=sys.stdout)
