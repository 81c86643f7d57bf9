"""Tasks: what a sequence is, how to sample it, and its Bayes-optimal answer.

Every task yields ``tokens`` of shape (B, N-1) (state indices 0..K-1 of x_1..x_{N-1})
and labels ``y`` of shape (B,) (the state s_N). States are 0-based here; the paper
numbers them 1..K.

- :class:`MarkovChain` (``markov.py``): any row-stochastic Π and initial law μ.
- :class:`ChainTask` (``chain.py``): ``task.name=chain``, any finite Markov source with a
  lag and an order, its table from ``walkformer/graphs/`` (a graph, a seed, or a given matrix).
- :func:`circle_walk` (``circle.py``): the random walk on a circle of Shi & Cao.
- :class:`FruitQA` (``qa.py``): the two question-answering tasks of Sec. 6.
- :class:`BinaryChain` (``binary.py``): the binary chain of Makkuva et al. with
  next-token targets at every position (tokens and targets both (B, N)).
- :func:`bag_accuracy` (``bag.py``): the best accuracy of any predictor that sees only
  the multiset of x_1..x_{N-1} (what a model without positions sees).
"""

from .markov import MarkovChain
from .circle import CircleWalk, circle_walk, circle_transition
from .qa import FruitQA, VOCAB
from .binary import BinaryChain
from .bag import bag_accuracy
from .chain import ChainTask, make_chain

__all__ = ["MarkovChain", "CircleWalk", "circle_walk", "circle_transition", "FruitQA", "VOCAB", "BinaryChain",
           "bag_accuracy", "ChainTask", "make_chain", "make_task"]


def make_task(cfg):
    """The task named by ``cfg.task`` (a resolved :class:`walkformer.config.Config`)."""
    t = cfg.task
    if t.name == "circle":
        return circle_walk(t.K, t.N, t.p)
    if t.name == "binary":
        return BinaryChain(t.p, t.q, t.N)
    if t.name == "chain":
        return make_chain(cfg)
    return FruitQA(t.name)
