"""task.name=chain: the Bayes numbers against brute force over every sequence, samplers
against the table (chi-square), the circle and binary tasks as instances, every bad input
a one-line ConfigError."""

import itertools
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_tasks import chi2_pvalue

from walkformer.config import ConfigError
from walkformer.tasks import BinaryChain, MarkovChain, circle_walk, make_task
from walkformer.tasks.chain import check
from walkformer.graphs import regular as regular_graph

ORDER2 = "0.7,0.2,0.1;0.1,0.8,0.1;0.3,0.3,0.4;0.5,0,0.5;0.2,0.2,0.6;0,0.1,0.9;0.6,0.4,0;1,0,0;0.25,0.25,0.5"


def task_cfg(**task):
    """A stand-in config: only ``cfg.task`` is read; absent keys take their defaults."""
    return SimpleNamespace(task=SimpleNamespace(**({"name": "chain", "K": 3, "N": 5, "p": 0.3} | task)))


def brute_force(task):
    """(accuracy, loss, {sequence: probability}) of the Bayes predictor over all K^N
    sequences, each probability a direct product of the definition (chain.py docstring):
    the first context of each of the ℓ sub-chains from μ, then s_i ~ T[c_i]."""
    K, N, k, lag, T, mu = task.K, task.N, task.order, task.lag, task.table, task.mu
    ctx = lambda states: np.ravel_multi_index(tuple(states), (K,) * k)  # noqa: E731
    joint = {}
    for s in itertools.product(range(K), repeat=N):
        p = math.prod(mu[ctx(s[r : r + k * lag : lag])] for r in range(lag))
        p *= math.prod(T[ctx(s[i - k * lag : i : lag]), s[i]] for i in range(k * lag, N))
        if p > 0:
            joint[s] = p
    acc = loss = 0.0
    for x in itertools.product(range(K), repeat=N - 1):
        py = np.array([joint.get(x + (y,), 0.0) for y in range(K)])
        if py.sum() > 0:
            acc += py.max()
            loss -= sum(q * math.log(q / py.sum()) for q in py if q > 0)
    return acc, loss, joint


CASES = [dict(graph="circle"), dict(graph="circle", lag=2), dict(graph="path", lag=2), dict(graph="star"),
         dict(graph="lazy-circle", stay=0.2), dict(graph="dirichlet", alpha=0.7),
         dict(graph="dirichlet", lag=2, alpha=0.5, graph_seed=3), dict(graph="dirichlet", order=2),
         dict(graph="matrix", matrix=ORDER2, order=2), dict(graph="matrix", matrix=ORDER2, order=2, lag=2),
         dict(graph="hypercube", K=4, lag=2)]


@pytest.mark.parametrize("law", ["uniform", "stationary"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items() if k != "matrix"))
def test_bayes_numbers_and_population_equal_brute_force(case, law):
    task = make_task(task_cfg(init_law=law, **case))
    acc, loss, joint = brute_force(task)
    assert task.optimal_accuracy == pytest.approx(acc, abs=1e-12)
    assert task.bayes_accuracy == task.optimal_accuracy
    assert task.bayes_loss == pytest.approx(loss, abs=1e-12)
    tokens, y, w = task.population()
    got = {tuple(t) + (int(b),): float(p) for t, b, p in zip(tokens.tolist(), y, w)}
    assert got.keys() == joint.keys() and len(got) == len(tokens)
    assert max(abs(got[s] - joint[s]) for s in joint) < 1e-14
    if law == "stationary":  # μ P = μ on contexts (P built here from the table by its definition)
        C, K = task.table.shape
        P = np.zeros((C, C))
        for c, s in itertools.product(range(C), range(K)):
            P[c, (c * K + s) % C] += task.table[c, s]
        assert np.abs(task.mu @ P - task.mu).max() < 1e-13 and task.mu.min() >= 0
    else:
        assert np.all(task.mu == 1.0 / len(task.mu))


def test_true_conditional_reads_the_context_at_the_lag():
    task = make_task(task_cfg(graph="matrix", matrix=ORDER2, order=2, lag=2, N=7))
    tokens, _ = task.sample(50, torch.Generator().manual_seed(0))
    assert task.parent_index == 7 - 1 - 2  # x_{N-2}
    want = task.table[3 * tokens[:, 2].numpy() + tokens[:, 4].numpy()]  # context (x_3, x_5), x_3 most significant
    assert np.array_equal(task.true_conditional(tokens).numpy(), want)
    one = make_task(task_cfg(graph="path", lag=3, N=7))
    assert torch.equal(one.true_conditional(tokens), torch.from_numpy(one.Pi)[tokens[:, 3]])


@pytest.mark.parametrize("case", [dict(graph="path", p=0.3, lag=1), dict(graph="dirichlet", alpha=0.8, lag=2),
                                  dict(graph="matrix", matrix=ORDER2, order=2, lag=2, init_law="stationary")],
                         ids=["path", "dirichlet-lag2", "order2-lag2-stationary"])
def test_sampled_transitions_and_first_contexts_match_the_table(case, gen):
    task = make_task(task_cfg(N=9, **case))
    s = task.sample_states(6000, gen).numpy()  # (B, N)
    k, lag, K, C = task.order, task.lag, task.K, task.table.shape[0]
    weights = K ** np.arange(k - 1, -1, -1)
    counts = np.zeros((C, K))
    for i in range(k * lag, task.N):
        np.add.at(counts, (s[:, i - k * lag : i : lag] @ weights, s[:, i]), 1)
    for c in range(C):
        if (task.table[c] > 0).sum() == 1:  # a sure step: no test statistic, every draw on it
            assert counts[c, task.table[c] == 0].sum() == 0
        elif counts[c].sum() > 0:
            assert chi2_pvalue(counts[c], counts[c].sum() * task.table[c]) > 1e-4
    first = np.concatenate([s[:, r : r + k * lag : lag] @ weights for r in range(lag)])
    assert chi2_pvalue(np.bincount(first, minlength=C), len(first) * task.mu) > 1e-4


@pytest.mark.parametrize("order", [2, 3])
def test_context_walk_draws_what_the_dense_chain_on_contexts_draws(order):
    task = make_task(task_cfg(graph="dirichlet", alpha=0.3, order=order, N=12, init_law="stationary"))
    dense = MarkovChain(task.walk.Pi, task.walk.mu, task.walk.N)
    a = task.walk.sample_states(500, torch.Generator().manual_seed(7))
    assert torch.equal(a, dense.sample_states(500, torch.Generator().manual_seed(7)))


@pytest.mark.parametrize("law", ["uniform", "stationary"])
def test_graph_circle_is_the_circle_task(law, gen):
    walk = circle_walk(6, 11, 0.3)
    chain = make_task(task_cfg(K=6, N=11, graph="circle", init_law=law))
    assert np.array_equal(chain.Pi, walk.Pi)
    assert chain.optimal_accuracy == pytest.approx(walk.optimal_accuracy, abs=1e-12)
    assert chain.bayes_loss == pytest.approx(walk.bayes_loss, abs=1e-12)
    assert chain.parent_index == walk.parent_index
    a, b = chain.sample(64, gen), walk.sample(64, torch.Generator().manual_seed(1234))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # the same draws, too


@pytest.mark.parametrize("p, q", [(0.2, 0.3), (0.5, 0.9), (0.05, 0.6)])
def test_binary_chain_is_the_stationary_matrix_chain(p, q):
    binary = BinaryChain(p, q, 8)  # predicts x_{n+1} from x_n; draws N + 1 = 9 states
    chain = make_task(task_cfg(graph="matrix", matrix=f"{1 - p},{p};{q},{1 - q}", init_law="stationary", N=9))
    assert chain.K == 2 and np.allclose(chain.Pi, binary.Pi, atol=1e-15)
    assert np.allclose(chain.mu, binary.mu, atol=1e-14)
    assert chain.bayes_loss == pytest.approx(binary.bigram_loss, abs=1e-12)  # the entropy rate
    assert chain.optimal_accuracy == pytest.approx(binary.optimal_accuracy, abs=1e-12)
    x = torch.tensor([[0, 1, 1, 0, 1, 0, 0, 1], [1, 1, 0, 0, 0, 1, 0, 0]])
    assert torch.allclose(chain.true_conditional(x)[:, 1], binary.prob_one(x[:, -1]), atol=1e-15)


def test_matrix_files_read_like_inline(tmp_path):
    table = np.array([[0.9, 0.1], [0.25, 0.75]])
    np.save(tmp_path / "m.npy", table)
    np.savetxt(tmp_path / "m.csv", table, delimiter=",")
    (tmp_path / "m.json").write_text(json.dumps(table.tolist()))
    inline = make_task(task_cfg(graph="matrix", matrix="0.9,0.1;0.25,0.75"))
    for name in ("m.npy", "m.csv", "m.json"):
        assert np.array_equal(make_task(task_cfg(graph="matrix", matrix=str(tmp_path / name))).Pi, inline.Pi)


def regular(K, d, seed):
    return regular_graph.table(SimpleNamespace(K=K, degree=d, graph_seed=seed))


def test_regular_graph_is_seeded_connected_and_regular():
    A = regular(10, 3, 0)
    assert np.array_equal(A, regular(10, 3, 0)) and not np.array_equal(A, regular(10, 3, 1))
    assert np.array_equal(A, A.T) and np.all((A > 0).sum(1) == 3) and np.all(np.diag(A) == 0)
    reach = np.linalg.matrix_power(np.eye(10) + A, 9) > 0
    assert reach.all()
    dense = regular(8, 6, 2)  # via the complement of a 1-regular graph
    assert np.all((dense > 0).sum(1) == 6) and np.allclose(dense.sum(1), 1.0)


BAD = [  # (task keys, words the one-line message must hold)
    (dict(graph="hypercube", K=6), "task.K", "power of 2"),
    (dict(graph="matrix", matrix="0.5,0.5;1,0;0,1"), "task.matrix", "square"),
    (dict(graph="matrix", matrix="1.5,-0.5;0.5,0.5"), "task.matrix", "non-negative"),
    (dict(graph="matrix", matrix="0.9,0.2;0.5,0.5"), "task.matrix", "row 0 sums to 1.1"),
    (dict(graph="matrix", matrix="nan,1;0.5,0.5"), "task.matrix", "finite"),
    (dict(graph="matrix", matrix="a,b;c,d"), "task.matrix", "not a number"),
    (dict(graph="matrix", matrix="0.5,0.5;1"), "task.matrix", "one length"),
    (dict(graph="matrix", matrix="/no/such/file.npy"), "task.matrix", "cannot read"),
    (dict(graph="matrix", matrix="1"), "task.matrix", "at least 2 states"),
    (dict(graph="matrix", matrix="0.5,0.5;0.5,0.5", order=2), "task.matrix", "(4, 2)"),
    (dict(graph="matrix", matrix="1,0;0,1", init_law="stationary"), "task.init_law", "2 closed classes"),
    (dict(graph="matrix"), "task.graph", "task.matrix set"),
    (dict(graph="circle", matrix="0.5,0.5;0.5,0.5"), "task.matrix", "only with task.graph=matrix"),
    (dict(graph="circle", K=2), "task.K", "3 to 1024"),
    (dict(graph="path", K=1), "task.K", "2 to 1024"),
    (dict(graph="regular", K=5, degree=3), "task.degree", "K·d even"),
    (dict(graph="regular", K=4, degree=4), "task.degree", "[1, 3]"),
    (dict(graph="regular", K=4, degree=1), "task.degree", "disconnected"),
    (dict(graph="dirichlet", alpha=0.0), "task.alpha", "> 0"),
    (dict(graph="dirichlet", K=6, order=4), "task.order", "1024"),
    (dict(graph="lazy-circle", stay=1.5), "task.stay", "[0, 1]"),
    (dict(graph="circle", p=1.2), "task.p", "[0, 1]"),
    (dict(graph="circle", order=2), "task.order", "dirichlet or matrix"),
    (dict(graph="torus"), "task.graph", "one of circle"),
    (dict(graph="dirichlet", graph_seed=-1), "task.graph_seed", ">= 0"),
    (dict(lag=5), "task.lag", "task.N − 1 = 4"),
    (dict(graph="dirichlet", order=2, lag=3), "task.lag", "order·lag"),
    (dict(lag=0), "task.lag", ">= 1"),
    (dict(order=0), "task.order", ">= 1"),
    (dict(init_law="first"), "task.init_law", "uniform | stationary"),
]


@pytest.mark.parametrize("keys, key, words", BAD, ids=[f"{b[1]}-{b[2]}" for b in BAD])
def test_bad_input_is_one_line_error(keys, key, words):
    with pytest.raises(ConfigError) as e:
        check(task_cfg(**keys))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(key + "=") and words in msg, msg


@pytest.mark.parametrize("text", ["{not json", '[["x", 1]]'])
def test_bad_matrix_file_is_one_line_error(tmp_path, text):
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(ConfigError, match=r"^task\.matrix=.*cannot read[^\n]*$"):
        check(task_cfg(graph="matrix", matrix=str(tmp_path / "m.json")))


def test_population_too_large_is_one_line_error():
    task = make_task(task_cfg(graph="complete", K=6, N=12))  # 6·5^11 paths
    assert task.population_rows() > 1 << 20
    with pytest.raises(ConfigError, match=r"^train\.data='population' is not allowed: [^\n]*$"):
        task.population()


def test_trained_attention_goes_to_the_parent_at_the_lag():
    """The issue's check: with task.lag=2 the trained attention sits on x_{N-2}."""
    from walkformer import loop
    from walkformer.config import Config

    cfg = Config()
    for key, value in dict(name="chain", graph="circle", lag=2, N=20, p=0.9).items():
        setattr(cfg.task, key, value)
    cfg.model.M, cfg.train.steps = 50, 100
    result = loop.run(cfg)
    assert result.task.parent_index == 17  # x_18 = x_{N-2}, 0-based slot
    assert result.summary["parent_attention"] > 0.99
    assert result.summary["test_accuracy"] > result.summary["optimal_accuracy"] - 0.05
