import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


def numbers(x, out=None) -> list:
    """Every value of a nested summary / metrics structure, in a fixed order, timings
    (``seconds``, ``ms_per_step``) left out: what "same numbers" compares."""
    out = [] if out is None else out
    if isinstance(x, dict):
        for k in sorted(x):
            if k not in ("seconds", "ms_per_step"):
                numbers(x[k], out)
    elif isinstance(x, (list, tuple)):
        for v in x:
            numbers(v, out)
    else:
        out.append(float(x) if isinstance(x, (int, float)) else x)
    return out
