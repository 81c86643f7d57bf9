"""Causal attention for a layer whose input is one of two vectors per position: the first
layer of the binary ``gpt`` (what ``models/gpt.py`` calls there; deeper layers use
``causal_attention.py``).

At layer 1 the residual stream is x_n·e + p_n (LayerNorm'd or not), a function of the
token x_n ∈ {0, 1} and the position n only. So the queries and keys are looked up in two
tables, q_n = Q^{x_n}_n and k_i = K^{x_i}_i with Q, K (2, N, dh) (and v_i = V^{x_i}_i),
and every score is one of four values shared by the whole batch:

    s^{ab}_{n,i} = ⟨Q^a_n, K^b_i⟩/√dh,   p_{n,i} ∝ exp(s^{x_n x_i}_{n,i})  (i ≤ n),   o_n = Σ_i p_{n,i} v_i
    backward (dS as in causal_attention.py), summed over the sequences b by token pair:
    DS^{ab}_{n,i} = Σ_b [x_{b,n} = a][x_{b,i} = b] dS_{b,n,i}
    dQ^a_n = Σ_b Σ_i DS^{ab}_{n,i} K^b_i/√dh,   dK^b_i = Σ_a Σ_n DS^{ab}_{n,i} Q^a_n/√dh,
    dV^a_i = Σ_b [x_{b,i} = a] Σ_n p_{b,n,i} dO_{b,n}

The C kernel (``token_attention.c``) computes the four score rows and their exps once per
query row, not once per sequence; a sequence's softmax weights are then a per-key choice
between two of them, each scaled by one number per row (``token_attention.c`` says how
the stabiliser stays exact, with an exact fallback per row); dQ and dK come from the
batch-summed DS once. Without LayerNorm the caller passes kd with K^1 = K^0 + kd (token
1's input is token 0's plus e, so kd = e W_K): then s^{a1} = s^{a0} + ⟨Q^a_n, kd⟩/√dh and
two score rows and exps per query row suffice. At the papers' setting (batch 16,
N = 1024, head size 8, no LayerNorm) attention forward + backward takes ~28 ms against
~45 for ``causal_attention``'s kernel on the gathered q, k, v (``bench/bench_gpt.py``).
Same maths as ``causal_attention``, the sums in another order (round-off;
tests/test_token_attention.py states the tolerances). float32 and float64 CPU tensors,
head size ≤ 64, one model or G at once (``models/batched_gpt.py``); ``usable`` says when
it runs (the acceleration ``token_attention`` of ``ops/__init__.py``; off, e.g.
``WALKFORMER_OPS=-token_attention``, or without a C compiler the caller gathers q, k, v
and uses ``causal_attention``).
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import torch

from . import enabled
from .ckernel import Kernel
from .causal_attention import POOL, _buffer, _flags, _free, _ptr


def _declare(lib) -> None:
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for suf, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        getattr(lib, "tok_fwd_" + suf).argtypes = [i64] * 5 + [real] + [ptr] * 8
        getattr(lib, "tok_bwd_" + suf).argtypes = [i64] * 5 + [real] + [ptr] * 12
        getattr(lib, "row_stride_" + suf).argtypes = [i64]
        getattr(lib, "row_stride_" + suf).restype = i64


_kernel = Kernel(Path(__file__).with_name("token_attention.c"), _flags, _declare,
                 "the first layer gathers q and k and uses causal_attention")


def library():
    """The compiled kernel (ctypes), or None where it cannot be built (one warning)."""
    return _kernel.library()


def _check(rc: int) -> None:
    if rc:
        raise MemoryError(f"token attention kernel failed (code {rc})")


class _TokenAttention(torch.autograd.Function):
    """Q, K, V (G, H, 2, N, dh), x (G, B, N) int32, kd (G, H, dh) or None -> o (G, B, H, N, dh)."""

    @staticmethod
    def forward(ctx, Q, K, V, x, kd):
        (G, H, _, N, dh), B, suf = V.shape, x.shape[1], "f32" if V.dtype == torch.float32 else "f64"
        lib = library()
        o = V.new_empty(G, B, H, N, dh)
        R = V.new_empty(G, B, H, N, 4)  # per row: c_0, c_1, 1/Σe, exact flag
        E = _buffer((G, H, N, 4, getattr(lib, "row_stride_" + suf)(N)), V.dtype)  # the tiles of exps
        _check(getattr(lib, "tok_fwd_" + suf)(G, B, H, N, dh, 1 / math.sqrt(dh), *map(_ptr, (Q, K, V, kd, x, o, R, E))))
        ctx.save_for_backward(Q, K, V, x, o, R)
        ctx.kd = kd
        ctx.E = E
        return o

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dO):
        Q, K, V, x, o, R = ctx.saved_tensors
        E, ctx.E = ctx.E, None
        if E is None:
            raise RuntimeError("token attention: a second backward through the same graph is not supported")
        (G, B, H, N, dh), suf = o.shape, "f32" if o.dtype == torch.float32 else "f64"
        dO = dO.contiguous()  # a name keeps it alive through the call (a temporary would be freed first)
        dQ, dK, dV = torch.empty_like(Q), torch.empty_like(K), torch.empty_like(V)  # (G, H, 2, N, dh)
        _check(getattr(library(), "tok_bwd_" + suf)(G, B, H, N, dh, 1 / math.sqrt(dh),
                                                    *map(_ptr, (Q, K, V, ctx.kd, x, o, R, E, dO, dQ, dK, dV))))
        _free.append(E)
        del _free[:-POOL]
        return dQ, dK, dV, None, None


def usable(t: torch.Tensor) -> bool:
    """Whether :func:`token_attention` can run the kernel for tables like t."""
    return (enabled("token_attention") and t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64)
            and t.shape[-1] <= 64 and library() is not None)


def token_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, x: torch.Tensor,
                    kd: torch.Tensor | None = None) -> torch.Tensor:
    """Causal softmax attention with q_n = Q[:, x_n, n], k_i = K[:, x_i, i], v_i = V[:, x_i, i]:
    Q, K, V (H, 2, N, dh) tables, x (B, N) tokens in {0, 1} -> o (B, H, N, dh); or G models
    at once, each with its own tables and tokens: Q, K, V (G, H, 2, N, dh), x (G, B, N) ->
    o (G, B, H, N, dh). ``kd`` (H, dh) or (G, H, dh), when the caller built K[:, 1] as
    K[:, 0] + kd (no LayerNorm): the kernel then computes half the scores and exps (it uses
    s^{a1} = s^{a0} + ⟨Q^a, kd⟩/√dh; the gradient still reaches kd through K[:, 1])."""
    one = Q.dim() == 4
    Q, K, V = (t[None] if one else t for t in (Q, K, V))
    x = x[None] if one else x
    if kd is not None:
        kd = (kd[None] if one else kd).detach().to(Q.dtype).contiguous()
    o = _TokenAttention.apply(Q.contiguous(), K.contiguous(), V.contiguous(), x.to(torch.int32).contiguous(), kd)
    return o[0] if one else o
