"""metrics/formulas.py: each formula against its definition, by hand or directly."""

import pytest
import torch

from walkformer.metrics import accuracy, frobenius_cosines, kl_divergence, kl_log_eps, logit_spread


def _law(gen, *shape):
    t = torch.rand(*shape, generator=gen, dtype=torch.float64)
    return t / t.sum(-1, keepdim=True)


@pytest.mark.parametrize("eps", [0.1, 1e-6])
def test_kl_log_eps_is_the_kl_to_the_normalised_read_out(eps):
    gen = torch.Generator().manual_seed(0)
    R, B, K = 3, 7, 4
    f = torch.randn(R, B, K, generator=gen, dtype=torch.float64)
    t = _law(gen, R, B, K)
    t[0, 0] = torch.tensor([1.0, 0.0, 0.0, 0.0])  # a zero of P(y | x): 0 log 0 = 0
    q = f.clamp(min=0) + eps
    q = q / q.sum(-1, keepdim=True)
    want = (t * (torch.where(t > 0, t, 1.0).log() - q.log())).sum(-1).mean(-1)  # (R,)
    got = kl_log_eps(f, t, eps, 2)
    assert torch.allclose(got, want, rtol=0, atol=1e-13)
    assert torch.allclose(got, kl_divergence(t, q), rtol=0, atol=1e-13)  # the reference's writing
    # the single model's layout: (K, B) sequence-last, Σ t log t given
    one = kl_log_eps(f[1].T, t[1].T, eps, 0, float(torch.xlogy(t[1], t[1]).sum()))
    assert float(one) == pytest.approx(float(want[1]), abs=1e-13)
    # f = 0 gives the uniform q
    zero = kl_log_eps(torch.zeros(B, K, dtype=torch.float64).T, t[2].T, eps, 0)
    assert float(zero) == pytest.approx(float((t[2] * (t[2] * K).log()).sum(-1).mean()), abs=1e-13)


def test_accuracy_ties_go_to_the_smallest_label():
    f = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])  # (B, K): argmax 0 and 1
    assert float(accuracy(f, torch.tensor([0, 1]), 1)) == 1.0
    assert float(accuracy(f, torch.tensor([1, 2]), 1)) == 0.0
    assert float(accuracy(f.T, torch.tensor([0, 2]), 0)) == 0.5  # sequence-last layout


def test_frobenius_cosines_by_hand():
    V = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]], dtype=torch.float64)
    T = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    assert frobenius_cosines(V, T).tolist() == pytest.approx([2 / (2 ** 0.5 * 2), 0.0])  # ‖V‖ = 0: 0


def test_logit_spread_is_exactly_zero_only_at_equal_logits():
    ut, c = torch.full((2, 3), 0.7, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)
    c[1, -1] = 5.0  # the empty slot N does not count
    assert logit_spread(ut, c).tolist() == [0.0, 0.0]
    c[0, 1] = 0.25
    ut[1, 2] = 1.0
    assert logit_spread(ut, c).tolist() == pytest.approx([0.25, 0.3])
