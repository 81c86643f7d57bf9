"""A variant is one file: the graphs of ``task.name=chain`` (``walkformer/graphs/``), the
position schemes (``walkformer/positions/``) and the losses (``walkformer/losses/``) of the
transformer, one module each; adding one is adding one file (checked on a copy of the sources
with a new module, run in a subprocess)."""

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from walkformer import graphs
from walkformer.config import Config, ConfigError, TaskConfig, apply_overrides, resolve
from walkformer.keys import REGISTRY

SRC = Path(__file__).resolve().parents[1] / "src"


def test_every_graph_module_declares_what_it_reads():
    for g in graphs.GRAPHS:
        assert graphs.describe(g) and graphs.uses(g), g
        assert all(k in REGISTRY for k in graphs.uses(g)), g
    assert graphs.GRAPHS[0] == "circle" and graphs.GRAPHS[-1] == "matrix"
    assert graphs.ORDERED == ("dirichlet", "matrix")


def test_the_defaults_of_a_missing_key_are_the_configs():
    defaults = {f.name: f.default for f in dataclasses.fields(TaskConfig)}
    for k, v in graphs._Defaults.DEFAULTS.items():
        assert defaults[k] == v, k


@pytest.mark.parametrize("graph", [g for g in graphs.GRAPHS if g != "matrix"])
def test_a_key_applies_exactly_when_the_graph_reads_it(graph):
    """``USES`` decides: a graph key the graph reads is accepted, the others are one-line errors."""
    for key in ("task.p", "task.stay", "task.degree", "task.alpha", "task.graph_seed"):
        value = {"task.p": 0.7, "task.stay": 0.3, "task.degree": 3, "task.alpha": 2.0, "task.graph_seed": 1}[key]
        over = {"task.name": "chain", "task.graph": graph, "task.K": 8, key: value}
        if key in graphs.uses(graph):
            resolve(apply_overrides(Config(), over), explicit=set(over))
        else:
            with pytest.raises(ConfigError, match=f"{key}=.* does not apply with (task.name=chain, )?task.graph={graph}: it is used by"):
                resolve(apply_overrides(Config(), over), explicit=set(over))


def test_the_path_reads_task_p():
    """The path walk steps right w.p. task.p (it was refused as inapplicable before the
    graphs declared their keys)."""
    over = {"task.name": "chain", "task.graph": "path", "task.K": 5, "task.p": 0.8}
    cfg = resolve(apply_overrides(Config(), over), explicit=set(over))
    T = graphs.transition_table(cfg.task)
    assert T[2, 3] == 0.8 and T[2, 1] == pytest.approx(0.2) and T[0, 1] == 1.0


NEW_GRAPH = '''"""a test graph: a step of +2 w.p. task.p, else −1

    π_{i,i+2} = p,  π_{i,i−1} = 1 − p   (mod K)
"""

import numpy as np

from . import nodes, probability

USES = ("task.K", "task.p")
RANK = 5.5


def table(t) -> np.ndarray:
    nodes(t.K, "zigzag", 3)
    probability("task.p", t.p)
    Pi = np.zeros((t.K, t.K))
    i = np.arange(t.K)
    Pi[i, (i + 2) % t.K] += t.p
    Pi[i, (i - 1) % t.K] += 1 - t.p
    return Pi
'''


def test_a_new_graph_is_one_file(tmp_path):
    """A copy of the sources plus graphs/zigzag.py, nothing else: the graph is a choice of
    task.graph with its description in ``walkformer keys`` and docs/keys.md, its keys
    apply, and a run trains on it with its exact Bayes accuracy."""
    src = tmp_path / "src"
    shutil.copytree(SRC / "walkformer", src / "walkformer", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (src / "walkformer" / "graphs" / "zigzag.py").write_text(NEW_GRAPH)
    env = os.environ | {"PYTHONPATH": str(src)}
    code = ("from walkformer.config import keys_markdown; from walkformer.cli import main; import sys; "
            "assert '| `zigzag` | `task.K`, `task.p` | a test graph' in keys_markdown(); "
            "sys.exit(main(['train', '--out', sys.argv[1], '--quiet', 'task.name=chain', 'task.graph=zigzag', "
            "'task.p=0.9', 'task.K=5', 'task.N=11', 'model.M=20', 'train.steps=3', 'train.n_train=50', "
            "'eval.n_test=50']))")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    import json

    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary.get("bayes_accuracy", summary["optimal_accuracy"]) == pytest.approx(0.9)
    listed = subprocess.run([sys.executable, "-m", "walkformer.cli", "keys"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert "hypercube, zigzag, regular" in listed.stdout
    assert not (SRC / "walkformer" / "graphs" / "zigzag.py").exists()
    assert np.isclose(graphs.transition_table(TaskConfig(graph="circle", K=5, p=0.9)).sum(), 5)


NEW_POSITIONS = '''"""a test scheme: added ramp positions, p_i = (i / N) · 1

    x̃_i = t_i + (i / N) 1
"""

KIND = "added"
USES = ()
RANK = 3.5


def table(N, d, dtype):
    import torch

    return (torch.arange(1, N + 1, dtype=torch.float64)[:, None] / N).expand(N, d).to(dtype)
'''


def test_a_new_position_scheme_is_one_file(tmp_path):
    """A copy of the sources plus positions/ramp.py, nothing else: model.pos=ramp is a
    choice with its description, the reference transformer adds its rows, and model.M
    (read only by concatenated schemes) is refused with it."""
    from walkformer import positions

    assert positions.POSITIONS == ("sin", "onehot", "learned", "sinusoidal", "rope", "none")
    src = tmp_path / "src"
    shutil.copytree(SRC / "walkformer", src / "walkformer", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (src / "walkformer" / "positions" / "ramp.py").write_text(NEW_POSITIONS)
    code = '''
import sys, torch
from walkformer.config import keys_markdown, ConfigError
from walkformer.api import configure, train
assert "| `ramp` | added | — | a test scheme" in keys_markdown()
run = train(["model.pos=ramp", "model.embed=learned", "model.d=8", "task.N=9", "train.steps=3",
             "train.n_train=40", "eval.n_test=40", "init.scheme=gaussian"])
m = run.model
assert torch.equal(m.P, (torch.arange(1, 10, dtype=torch.float64)[:, None] / 9).expand(9, 8))
try:
    configure(["model.pos=ramp", "model.embed=learned", "model.M=50"])
    sys.exit("model.M accepted")
except ConfigError as e:
    assert "model.M=50 does not apply" in str(e), e
print("ok", run.summary["test_accuracy"])
'''
    run = subprocess.run([sys.executable, "-c", code], env=os.environ | {"PYTHONPATH": str(src)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-2000:]
    assert not (SRC / "walkformer" / "positions" / "ramp.py").exists()


NEW_LOSS = '''"""a test loss: absolute error of the linear output against the one-hot label

    ℓ(f, y) = ‖f − e_y‖₁
"""

from .log_eps import probs  # noqa: F401

USES = ()
RANK = 4


def per_sample(f, y, eps):
    import torch.nn.functional as F

    return (f - F.one_hot(y, f.shape[-1]).to(f.dtype)).abs().sum(-1)
'''


def test_a_new_loss_is_one_file(tmp_path):
    """A copy of the sources plus losses/absolute.py, nothing else: model.loss=absolute is a
    choice with its description, the reference transformer trains with it (the loss of the
    trained model is the module's), and train.eps (read only by log-eps) is refused with it."""
    from walkformer import losses

    assert losses.LOSSES == ("log-eps", "softmax-ce", "bce", "squared")
    src = tmp_path / "src"
    shutil.copytree(SRC / "walkformer", src / "walkformer", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (src / "walkformer" / "losses" / "absolute.py").write_text(NEW_LOSS)
    code = '''
import sys, torch
from walkformer.config import keys_markdown, ConfigError
from walkformer.api import configure, train
assert "| `absolute` | — | a test loss" in keys_markdown()
run = train(["model.loss=absolute", "task.N=9", "model.M=20", "train.steps=3", "train.n_train=40", "eval.n_test=40"])
x, y = torch.tensor([[0, 1, 2, 3, 4, 5, 0, 1]]), torch.tensor([2])
f = run.model(x)
assert torch.equal(run.model.loss(f, y), (f - torch.nn.functional.one_hot(y, 6).double()).abs().sum())
try:
    configure(["model.loss=absolute", "train.eps=0.2"])
    sys.exit("train.eps accepted")
except ConfigError as e:
    assert "train.eps=0.2 does not apply" in str(e), e
print("ok")
'''
    run = subprocess.run([sys.executable, "-c", code], env=os.environ | {"PYTHONPATH": str(src)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-2000:]
    assert not (SRC / "walkformer" / "losses" / "absolute.py").exists()


def _support(graph: str, K: int) -> np.ndarray:
    """The edges each graph's definition allows (its module docstring), built independently."""
    i, j = np.meshgrid(np.arange(K), np.arange(K), indexing="ij")
    step = (j - i) % K
    return {"circle": (step == 1) | (step == K - 1), "lazy-circle": (step <= 1) | (step == K - 1),
            "path": np.abs(i - j) == 1, "star": ((i == 0) != (j == 0)),
            "complete": i != j, "hypercube": np.array([[bin(a ^ b).count("1") == 1 for b in range(K)] for a in range(K)]),
            "dirichlet": np.ones((K, K), bool)}[graph]


@pytest.mark.parametrize("graph", [g for g in graphs.GRAPHS if g not in ("matrix", "regular")])
def test_each_graph_is_row_stochastic_on_its_support(graph):
    """Every table is row-stochastic, non-zero exactly on the edges its definition allows
    (with p, stay strictly inside (0, 1)); the random regular graph: d neighbours each, symmetric."""
    K = 8
    T = graphs.transition_table(TaskConfig(name="chain", graph=graph, K=K, p=0.3, stay=0.2, alpha=0.5))
    assert T.shape == (K, K) and np.allclose(T.sum(1), 1.0, atol=1e-12) and (T >= 0).all()
    assert np.array_equal(T > 0, _support(graph, K)), graph


def test_the_regular_graph_has_its_degree_and_is_symmetric():
    T = graphs.transition_table(TaskConfig(name="chain", graph="regular", K=10, degree=4, graph_seed=3))
    A = T > 0
    assert np.array_equal(A, A.T) and (A.sum(1) == 4).all() and not A.diagonal().any()
    assert np.allclose(T[A], 0.25)
