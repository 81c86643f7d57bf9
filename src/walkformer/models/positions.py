"""Positions of the reference transformer (``transformer.py``).

- concatenated (the paper): x̃_i = [t_i; p_i] with P from :func:`shicao.positional`
  (``sin``: [p_i]_j = sin(π i j / M); ``onehot``: √(M/2) e_i; ``none``: M = 0);
- added: x̃_i = t_i + p_i with ``sinusoidal`` (the standard transformer's fixed
  PE[i, 2k] = sin(i / 10000^{2k/d}), PE[i, 2k+1] = cos(i / 10000^{2k/d})) or a learned
  table (a parameter of the model, not here);
- ``rope``: no vector is added; queries and keys are rotated, pair (2k, 2k+1) of the
  vector at position i by the angle i·θ_k, θ_k = 10000^{-2k/n} (Su et al.), so that
  ⟨R_i q, R_j k⟩ depends on i - j only.
"""

from __future__ import annotations

import torch

from .shicao import positional

CONCAT = ("sin", "onehot", "none")  # positions concatenated to the token part (none: M = 0)


def concatenated(pos: str, M: int, N: int, dtype) -> torch.Tensor:
    """Rows p_1 .. p_N of the paper's positional block, (N, M) (M = 0 for ``none``)."""
    return positional(pos, M, N, torch.float64).T.contiguous().to(dtype)  # (N, M)


def sinusoidal(N: int, d: int, dtype) -> torch.Tensor:
    """The fixed sinusoid of "Attention is all you need", positions 1..N, (N, d)."""
    i = torch.arange(1, N + 1, dtype=torch.float64)[:, None]  # (N, 1)
    k = torch.arange(0, d, 2, dtype=torch.float64)  # (ceil(d/2),)
    angle = i / 10000.0 ** (k / d)  # (N, ceil(d/2))
    pe = torch.zeros(N, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d // 2])
    return pe.to(dtype)


def rope(x: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """Rotate the last axis of x (..., S, n) by the positions ``slots`` (S,) (0-based).

    Pairs (2k, 2k+1) turn by (slot+1)·θ_k, θ_k = 10000^{-2k/n}; an odd n leaves the last
    coordinate as it is."""
    n = x.shape[-1]
    k = torch.arange(0, n - 1, 2, dtype=torch.float64, device=x.device)  # (n//2,)
    angle = (slots.to(torch.float64)[:, None] + 1) / 10000.0 ** (k / n)  # (S, n//2)
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    a, b = x[..., 0 : 2 * len(k) : 2], x[..., 1 : 2 * len(k) : 2]  # (..., S, n//2)
    rot = torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)  # (..., S, 2·(n//2))
    return torch.cat([rot, x[..., 2 * len(k) :]], -1)
