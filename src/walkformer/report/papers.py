"""The papers walkformer reproduces, and what each claims, for the report's front page.

An experiment belongs to a paper when its ``figure`` (the :class:`Experiment` field,
e.g. "Shi & Cao Fig. 4") contains one of the paper's ``match`` strings; experiments
matching none are listed under "Other experiments". The claims listed here are the
papers' own statements (from /work/shared/research); what we measured lives in each
experiment's claims.json, never here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paper:
    key: str
    title: str
    authors: str
    venue: str
    url: str
    match: tuple[str, ...]
    claims: tuple[str, ...]


PAPERS = (
    Paper("shicao", "Towards Understanding Transformers in Learning Random Walks", "Wei Shi, Yuan Cao",
          "NeurIPS 2025", "https://arxiv.org/abs/2511.23239", ("Shi & Cao", "Shi and Cao"),
          ("A one-layer transformer trained by gradient descent from zero initialisation on a random walk on a "
           "circle (0 < p < 1) reaches the optimal accuracy max(p, 1 − p) within a constant number of "
           "iterations; its attention selects the direct parent x_{N−1} and its value matrix V recovers Πᵀ "
           "(Theorem 3.1, Figs. 4, 8).",
           "For the deterministic walk (p = 1, N = rK + 1) it stays at random guessing 1/K: every token gets "
           "the same attention and V ∝ 1 1ᵀ (Theorem 4.1, Figs. 5, 9).",
           "With a small random initialisation p = 0.5 reaches the optimum after ~400 iterations while p = 1 "
           "is still unsolved at 1000; the symmetry breaks only after ~700 iterations (Figs. 6, 11–13).",
           "Beyond random walks: a question whose answer needs the token average is learned (Task 1, ≈ 100%), "
           "one that needs a single token is not (Task 2, ≈ 50%), also with an extra ReLU layer (Figs. 7, 10).",
           "The reviewers' questions (OpenReview rebuttal): with the 1/√d softmax scaling the conclusions remain and "
           "training only takes more iterations; a residual connection changes nothing, because the predicted "
           "slot's input is zero; with W = W_Kᵀ W_Q zero initialisation no longer trains W (presets rev-scaling, "
           "rev-residual, rev-qk-split).")),
    Paper("l2g", "Local to Global: Learning Dynamics and Effect of Initialization for Transformers",
          "Makkuva, Bondaschi, Ekbote, Girish, Nagle, Kim, Gastpar", "NeurIPS 2024",
          "https://arxiv.org/abs/2406.03072",
          ("Local to Global", "Local-to-Global", "L2G"),
          ("On a binary first-order Markov chain with flip probabilities p, q, a single-layer transformer has "
           "global minima at the bigram (Markov) predictor and, depending on the data and the architecture, "
           "bad local minima at the unigram (stationary) predictor.",
           "Which one gradient flow reaches depends on the switching factor p + q and the initialisation: for "
           "p + q > 1 a small Gaussian initialisation around the origin converges to the unigram local "
           "minimum, for p + q < 1 to the bigram global minimum.",
           "The parameters become low rank (rank one) during training, and an initialisation chosen from the "
           "analysis reaches the global minimum in both regimes.")),
    Paper("awm", "Attention with Markov: A Framework for Principled Analysis of Transformers via Markov Chains",
          "Makkuva, Bondaschi, Girish, Nagle, Jaggi, Kim, Gastpar", "ICLR 2025",
          "https://arxiv.org/abs/2402.04161", ("Attention with Markov", "AwM"),
          ("On a binary first-order Markov chain (flip probabilities p, q) a single-layer transformer has "
           "global minima at the bigram (Markov) predictor for every p, q.",
           "With tied embeddings and p + q > 1 it also has a bad local minimum at the unigram (stationary) "
           "predictor, where training gets trapped; untied, or for p + q < 1, that point is escapable.",
           "Models with two or more layers reliably reach the bigram predictor.")),
)


def paper_of(figure: str) -> Paper | None:
    return next((p for p in PAPERS if any(m.lower() in figure.lower() for m in p.match)), None)
