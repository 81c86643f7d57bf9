"""concatenated one-hot positions, p_i = √(M/2) e_i (width model.M), exactly orthogonal

    x̃_i = [t_i; p_i],  p_i = √(M/2) e_i   (the same norm as sin; M >= N)
"""

import math

KIND = "concatenated"
USES = ("model.M",)
RANK = 1


def table(N: int, M: int, dtype):
    """p_1 .. p_N as rows, (N, M)."""
    import torch

    P = torch.zeros(N, M, dtype=torch.float64)
    P[torch.arange(N), torch.arange(N)] = math.sqrt(M / 2)
    return P.to(dtype)


def check(m, t, D):
    if m.M < t.N:
        return "model.M", m.M, f"M >= N = {t.N} with model.pos=onehot (N orthogonal positions need N dimensions)"
    return None
