"""no positions: x̃_i = t_i (the model sees the multiset of tokens; docs/no-position.md)

    concatenated with width 0 (the paper's rebuttal: 'without positional embeddings')
"""

KIND = "concatenated"
USES = ()
RANK = 5


def table(N: int, M: int, dtype):
    import torch

    return torch.zeros(N, 0, dtype=dtype)
