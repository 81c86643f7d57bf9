"""concatenated sine positions of the paper, [p_i]_j = sin(π i j / M) (width model.M)

    x̃_i = [t_i; p_i],  [p_i]_j = sin(π i j / M),  j = 1..M

The rows of the DST: ⟨p_i, p_k⟩ = 0 in exact arithmetic (~1e-12 off in float64) and
‖p_i‖² = M/2 for 1 <= i < M, so M > N.
"""

import math

KIND = "concatenated"
USES = ("model.M",)
RANK = 0


def table(N: int, M: int, dtype):
    """p_1 .. p_N as rows, (N, M), computed in float64."""
    import torch

    i = torch.arange(1, N + 1, dtype=torch.float64)[:, None]  # (N, 1)
    j = torch.arange(1, M + 1, dtype=torch.float64)[None, :]  # (1, M)
    return torch.sin(math.pi * i * j / M).to(dtype)  # (N, M)


def check(m, t, D):
    if m.M <= t.N:
        return "model.M", m.M, f"M > N = {t.N} with model.pos=sin (sin(π i j / M) vanishes at i = M)"
    return None
