"""added fixed sinusoids of 'Attention is all you need'

    x̃_i = t_i + PE_i,  PE[i, 2k] = sin(i / 10000^{2k/d}),  PE[i, 2k+1] = cos(i / 10000^{2k/d})
    (positions i = 1..N, d = D_t)
"""

KIND = "added"
USES = ()
RANK = 3


def table(N: int, d: int, dtype):
    """PE_1 .. PE_N, (N, d), computed in float64."""
    import torch

    i = torch.arange(1, N + 1, dtype=torch.float64)[:, None]  # (N, 1)
    k = torch.arange(0, d, 2, dtype=torch.float64)  # (ceil(d/2),)
    angle = i / 10000.0 ** (k / d)  # (N, ceil(d/2))
    pe = torch.zeros(N, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d // 2])
    return pe.to(dtype)
