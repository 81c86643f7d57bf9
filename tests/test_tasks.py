"""Tasks: closed forms against the general chain, samplers against Π (chi-square)."""

import math

import numpy as np
import pytest
import torch

from walkformer.tasks import FruitQA, MarkovChain, circle_transition, circle_walk
from walkformer.tasks.qa import VOCAB


def chi2_pvalue(observed, expected) -> float:
    """Pearson chi-square test; p-value from the regularised upper incomplete gamma."""
    observed, expected = np.asarray(observed, float), np.asarray(expected, float)
    keep = expected > 0
    assert observed[~keep].sum() == 0, "an impossible transition was sampled"
    stat = (((observed - expected) ** 2)[keep] / expected[keep]).sum()
    df = keep.sum() - 1
    return float(torch.special.gammaincc(torch.tensor(df / 2.0), torch.tensor(stat / 2.0)))


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_circle_closed_forms_match_general_chain(p):
    walk = circle_walk(7, 13, p)
    general = MarkovChain(circle_transition(7, p), np.full(7, 1 / 7), 13)
    assert walk.optimal_accuracy == pytest.approx(general.optimal_accuracy, abs=1e-12)
    assert walk.optimal_accuracy == max(p, 1 - p)
    assert walk.bayes_loss == pytest.approx(general.bayes_loss, abs=1e-12)
    assert np.allclose(walk.Pi.sum(1), 1.0)


def test_circle_transition_entries():
    Pi = circle_transition(5, 0.7)
    assert Pi[0, 1] == 0.7 and Pi[0, 4] == pytest.approx(0.3) and Pi[4, 0] == 0.7
    assert (Pi > 0).sum() == 10


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_circle_sampler_transitions_match_pi(p, gen):
    walk = circle_walk(6, 40, p)
    s = walk.sample_states(4000, gen)  # (B, N)
    counts = np.zeros((6, 6))
    np.add.at(counts, (s[:, :-1].numpy().ravel(), s[:, 1:].numpy().ravel()), 1)
    for i in range(6):
        assert chi2_pvalue(counts[i], counts[i].sum() * walk.Pi[i]) > 1e-3
    first = np.bincount(s[:, 0].numpy(), minlength=6)
    assert chi2_pvalue(first, np.full(6, len(s) / 6)) > 1e-3


def test_general_chain_sampler_and_population(gen):
    rng = np.random.default_rng(0)
    Pi = rng.random((4, 4)) * (rng.random((4, 4)) > 0.3) + np.eye(4) * 0.1
    Pi /= Pi.sum(1, keepdims=True)
    mu = np.array([0.1, 0.2, 0.3, 0.4])
    chain = MarkovChain(Pi, mu, 6)
    s = chain.sample_states(20000, gen)
    counts = np.zeros((4, 4))
    np.add.at(counts, (s[:, :-1].numpy().ravel(), s[:, 1:].numpy().ravel()), 1)
    for i in range(4):
        assert chi2_pvalue(counts[i], counts[i].sum() * Pi[i]) > 1e-3
    assert chi2_pvalue(np.bincount(s[:, 0].numpy(), minlength=4), 20000 * mu) > 1e-3
    tokens, y, w = chain.population()
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)
    # exact law of the last observed state equals μ Π^{N-2}
    law = np.bincount(tokens[:, -1].numpy(), weights=w.numpy(), minlength=4)
    assert np.allclose(law, chain.marginal(5), atol=1e-12)
    # exact accuracy of the Bayes predictor on the population equals the closed form
    pred = Pi.argmax(1)[tokens[:, -1].numpy()]
    assert float((w.numpy() * (pred == y.numpy())).sum()) == pytest.approx(chain.optimal_accuracy, abs=1e-12)


def test_sampling_is_seeded():
    a = circle_walk(6, 20, 0.5).sample(10, torch.Generator().manual_seed(3))
    b = circle_walk(6, 20, 0.5).sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_fruit_tasks():
    t1, t2 = FruitQA("qa1"), FruitQA("qa2")
    assert len(VOCAB) == 19 and t1.K == 19
    assert (t1.N, t2.N) == (17, 19)
    tok, y, w = t1.population()
    assert len(y) == 32 and float(w.sum()) == pytest.approx(1.0)
    assert torch.equal(t1.label(tok), y)
    assert (y == VOCAB.index("apple")).sum() == 16
    tok2, y2, _ = t2.population()
    assert torch.equal(t2.label(tok2), y2) and y2.tolist() == [0, 1]
    # same multiset of words: the token average cannot tell the two questions apart
    assert torch.equal(torch.sort(tok2[0]).values, torch.sort(tok2[1]).values)
    assert not math.isnan(t1.optimal_accuracy)
