"""The two fruit question-answering tasks of Shi & Cao, Sec. 6 (and App. F.2).

Punctuation is dropped and every word is a one-hot token over a 19-word vocabulary
(K = 19); the answer word is the label, so the task is deterministic (OPT = 1,
Bayes loss 0).

- ``qa1`` (majority fruit, succeeds): "Based on the list w1 w2 w3 w4 w5 which type of
  fruit appears most frequently", w_k ∈ {apple, orange}, all 32 lists equally likely;
  16 words, N = 17; label = the majority fruit. The token average encodes the counts,
  so it is informative about the label.
- ``qa2`` (stated preference, fails): "Based on the sentence I prefer an A to an B which
  type of fruit do I prefer", (A, B) ∈ {(apple, orange), (orange, apple)} with
  probability 1/2 each; 18 words, N = 19; label = A. Both questions hold the same
  multiset of words, so the token average is identical for the two.
"""

from __future__ import annotations

import itertools

import torch

VOCAB = ("apple", "orange", "Based", "on", "the", "which", "type", "of", "fruit", "list",
         "appears", "most", "frequently", "sentence", "I", "prefer", "an", "to", "do")
_IDX = {w: i for i, w in enumerate(VOCAB)}
APPLE, ORANGE = _IDX["apple"], _IDX["orange"]


def encode(words: str) -> list[int]:
    return [_IDX[w] for w in words.split()]


def _questions(name: str) -> list[tuple[list[int], int]]:
    if name == "qa1":
        out = []
        for fruits in itertools.product(("apple", "orange"), repeat=5):
            text = f"Based on the list {' '.join(fruits)} which type of fruit appears most frequently"
            label = APPLE if fruits.count("apple") >= 3 else ORANGE
            out.append((encode(text), label))
        return out
    if name == "qa2":
        q = "Based on the sentence I prefer an {} to an {} which type of fruit do I prefer"
        return [(encode(q.format("apple", "orange")), APPLE), (encode(q.format("orange", "apple")), ORANGE)]
    raise ValueError(f"task.name={name!r}: expected qa1 or qa2")


class FruitQA:
    """A finite, uniformly distributed set of (question, answer) pairs."""

    optimal_accuracy = 1.0
    bayes_loss = 0.0
    parent_index = None  # no "direct parent" here
    Pi = None

    def __init__(self, name: str):
        qs = _questions(name)
        self.name = name
        self._tokens = torch.tensor([t for t, _ in qs], dtype=torch.long)  # (R, N-1)
        self._y = torch.tensor([y for _, y in qs], dtype=torch.long)  # (R,)
        self.K = len(VOCAB)
        self.N = self._tokens.shape[1] + 1

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(self._y), (n,), generator=gen)
        return self._tokens[idx], self._y[idx]

    def population(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        R = len(self._y)
        return self._tokens.clone(), self._y.clone(), torch.full((R,), 1.0 / R, dtype=torch.float64)

    def label(self, tokens: torch.Tensor) -> torch.Tensor:
        """The answer of each question (B,), read off the words themselves."""
        if self.name == "qa1":
            apples = (tokens == APPLE).sum(1)
            return torch.where(apples >= 3, APPLE, ORANGE)
        return tokens[:, 7]  # "... I prefer an <A> to an <B> ..."

    def true_conditional(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.label(tokens), self.K).double()  # (B, K)
