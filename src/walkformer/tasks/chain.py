"""``task.name=chain``: any finite Markov source, with a lag and an order, as a task.

**The source.** A table T of shape (K^k, K) (``walkformer/graphs/``; k = ``task.order``, T = Π for
k = 1) and a lag ℓ = ``task.lag``. States s_1..s_N (0-based values) follow

    s_i | s_1..s_{i-1}  ~  T[c_i, :],   c_i = index of (s_{i-kℓ}, .., s_{i-2ℓ}, s_{i-ℓ})    (i > kℓ)

with the context index the base-K number whose most significant digit is the oldest state,

    c = Σ_{j=1..k} s_{i-jℓ} · K^{j-1}        (k = 1: c = s_{i-ℓ}; numpy's ravel_multi_index order)

So the sequence is ℓ interleaved, independent k-th order chains: sub-chain r (r = 0..ℓ-1)
holds s_{r+1}, s_{r+1+ℓ}, s_{r+1+2ℓ}, ..; the first k states of each sub-chain (together,
s_1..s_{kℓ}) form its first context c ~ μ, drawn independently per sub-chain:

    task.init_law=uniform     μ uniform on the K^k contexts (s_1..s_{kℓ} i.i.d. uniform)
    task.init_law=stationary  μ the stationary law of the chain on contexts (below); refused
                              (one-line error) unless it is unique, i.e. unless the chain has
                              exactly one closed class (the binary papers' chains start here).

**Order k as order 1.** The contexts form a first-order chain on K^k states,

    P[c, (c·K + s) mod K^k] = T[c, s]                 (drop the oldest state, append s)

so every sub-chain is a :class:`~walkformer.tasks.markov.MarkovChain` on contexts: it
samples, enumerates (``population``) and gives the laws μ P^t for this task
(:class:`ContextWalk` draws the same samples from T directly, for speed).

**The Bayes-optimal answer.** The model sees x_1..x_{N-1} and predicts y = s_N. Given the
past, s_N depends only on its context c_N = (x_{N-kℓ}, .., x_{N-ℓ}) (all observed: kℓ <= N−1
is required), so f_OPT(X) = T[c_N, :] and, with t = ⌊(N−1)/ℓ⌋ the 0-based step of s_N in
its sub-chain, P(c_N = ·) = μ P^{t−k}:

    OPT (bayes_accuracy) = Σ_c P(c_N = c) · max_y T[c, y]
    Bayes loss (nats)    = Σ_c P(c_N = c) · H(T[c, :])

``parent_index`` = N−1−ℓ is the 0-based slot of the direct parent x_{N−ℓ} among the
N−1 observed tokens.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import ConfigError
from .. import graphs
from .circle import CircleWalk
from .markov import MAX_POPULATION_ROWS, MarkovChain, population_size

INIT_LAWS = ("uniform", "stationary")


def contexts_chain(table: np.ndarray, order: int) -> np.ndarray:
    """P (K^k, K^k): the k-th order chain of ``table`` (K^k, K) as a first-order chain on
    contexts, P[c, (c·K + s) mod K^k] = table[c, s]."""
    C, K = table.shape
    c = np.arange(C)[:, None]  # (C, 1)
    P = np.zeros((C, C))
    P[c, (c * K + np.arange(K)) % C] = table  # the K successors of a context are distinct
    return P


def closed_classes(P: np.ndarray) -> list[np.ndarray]:
    """The closed communicating classes of the chain P (each a sorted array of states), from
    the reachability relation of P's support (exact: no eigenvalues)."""
    C = len(P)
    R = ((P > 0) | np.eye(C, dtype=bool)).astype(np.float32)
    while True:  # transitive closure by squaring: at most log2(C) rounds
        R2 = (R @ R > 0).astype(np.float32)
        if (R2 == R).all():
            break
        R = R2
    R = R > 0  # R[i, j]: j reachable from i
    closed = ~(R & ~R.T).any(1)  # i recurrent: every state reachable from i reaches i back
    return [np.flatnonzero(row) for row in np.unique(R[closed], axis=0)]


def stationary_law(P: np.ndarray, key: str = "task.init_law") -> np.ndarray:
    """The stationary law π = π P of a chain with one closed class; ConfigError otherwise."""
    classes = closed_classes(P)
    if len(classes) != 1:
        shown = ", ".join("{" + ",".join(map(str, c[:6])) + (",..}" if len(c) > 6 else "}") for c in classes[:4])
        raise ConfigError(f"{key}='stationary' is not allowed: the chain has {len(classes)} closed classes "
                          f"({shown}), so its stationary law is not unique; use task.init_law=uniform")
    A = P.T - np.eye(len(P))  # (π P − π)ᵀ = A πᵀ; its rows sum to 0, so one is redundant:
    A[-1] = 1.0  # replace it by Σ π = 1 (non-singular when the closed class is unique)
    b = np.zeros(len(P))
    b[-1] = 1.0
    pi = np.clip(np.linalg.solve(A, b), 0.0, None)
    return pi / pi.sum()


class ContextWalk(MarkovChain):
    """The chain on contexts P = ``contexts_chain(table, k)`` (given), sampled from the (K^k, K)
    table itself: O(K) per draw instead of O(K^k). The successors of context c fill the
    block (cK mod K^k) + 0..K−1 of P's row in the order of s, so the same uniforms give the
    same contexts as ``MarkovChain(P, mu, n).sample_states`` (a test checks it)."""

    def __init__(self, P: np.ndarray, table: np.ndarray, mu: np.ndarray, n: int):
        super().__init__(P, mu, n)
        self._next = torch.from_numpy(np.cumsum(table, axis=1))  # (K^k, K) inverse-CDF of the next state
        self._next[:, -1] = 1.0 + 1e-12

    def sample_states(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n, L) contexts c_1..c_L (L = ``self.N``); c_{j+1} = (c_j·K + s) mod K^k, s ~ T[c_j]."""
        C, K = self._next.shape
        u = torch.rand(n, self.N, generator=gen, dtype=torch.float64)  # (n, L), as MarkovChain draws them
        c = torch.empty(n, self.N, dtype=torch.long)
        c[:, 0] = torch.searchsorted(self._cum0, u[:, 0].contiguous(), right=True)
        for j in range(1, self.N):
            s = torch.searchsorted(self._next[c[:, j - 1]], u[:, j : j + 1].contiguous(), right=True)[:, 0]  # (n,)
            c[:, j] = (c[:, j - 1] * K + s) % C
        return c


class ChainTask:
    """Next-state prediction on ℓ interleaved k-th order Markov chains (module docstring).

    **Arguments:**
    - `table`: (K^order, K) row-stochastic table (checked: ``graphs.stochastic``).
    - `N`: sequence length including the predicted state s_N.
    - `lag`: ℓ >= 1, the direct parent of s_i is s_{i−ℓ}.
    - `order`: k >= 1.
    - `init_law`: ``uniform`` or ``stationary``.
    - `walk`: optionally a faster :class:`MarkovChain` with the same law as the chain on
      contexts (``CircleWalk`` for ``task.graph=circle``), used to sample.
    """

    def __init__(self, table, N: int, lag: int = 1, order: int = 1, init_law: str = "uniform",
                 walk: MarkovChain | None = None):
        check_shape(N, lag, order, init_law)
        self.table = graphs.stochastic(table, "table", f"<array of shape {np.shape(table)}>", order)  # (K^k, K)
        self.K, self.N, self.lag, self.order, self.init_law = self.table.shape[1], N, lag, order, init_law
        self.Pi = self.table if order == 1 else None  # (K, K) or None
        self.lengths = [len(range(r, N, lag)) for r in range(lag)]  # states per sub-chain
        if walk is None:
            P = contexts_chain(self.table, order)
            mu = np.full(len(P), 1.0 / len(P)) if init_law == "uniform" else stationary_law(P)
            n = self.lengths[0] - order + 1
            walk = MarkovChain(P, mu, n) if order == 1 else ContextWalk(P, self.table, mu, n)
        self.walk = walk  # the chain on contexts, long enough for sub-chain 0 (the longest)

    # ---- Bayes-optimal answer, in closed form -------------------------------------------
    @property
    def mu(self) -> np.ndarray:
        """(K^k,) law of the first context of each sub-chain."""
        return self.walk.mu

    def parent_law(self) -> np.ndarray:
        """(K^k,) law of the context c_N = (x_{N−kℓ}, .., x_{N−ℓ}): μ P^{t−k}, t = ⌊(N−1)/ℓ⌋."""
        return self.walk.marginal((self.N - 1) // self.lag - self.order + 1)

    @property
    def optimal_accuracy(self) -> float:
        return float(self.parent_law() @ self.table.max(1))

    bayes_accuracy = optimal_accuracy

    @property
    def bayes_loss(self) -> float:
        T = torch.from_numpy(self.table)
        return float(self.parent_law() @ -torch.xlogy(T, T).sum(1).numpy())

    @property
    def parent_index(self) -> int:
        """0-based slot of the direct parent x_{N−lag} among the N−1 observed tokens."""
        return self.N - 1 - self.lag

    def context(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B,) index of c_N from tokens (B, N−1): the observed x_{N−kℓ}, .., x_{N−ℓ}."""
        k, lag = self.order, self.lag
        parents = tokens[:, self.N - 1 - k * lag : self.N - 1 : lag]  # (B, k), oldest first
        return (parents * self.K ** torch.arange(k - 1, -1, -1)).sum(1)  # (B,)

    def true_conditional(self, tokens: torch.Tensor) -> torch.Tensor:
        """P(y | x_1..x_{N−1}) = T[c_N, :], shape (B, K)."""
        return torch.from_numpy(self.table)[self.context(tokens)]  # (B, K)

    # ---- sampling --------------------------------------------------------------------------
    def states(self, contexts: torch.Tensor) -> torch.Tensor:
        """(m, L) states of sub-chains from their (m, L−k+1) context paths: the digits of
        the first context, then the newest digit of each next one."""
        if self.order == 1:
            return contexts
        K, k = self.K, self.order
        first = contexts[:, :1] // K ** torch.arange(k - 1, -1, -1) % K  # (m, k)
        return torch.cat([first, contexts[:, 1:] % K], 1)  # (m, L)

    def interleave(self, subs: list[torch.Tensor]) -> torch.Tensor:
        """(m, N) sequences from the ℓ sub-chains' states (m, L_r): s_{r+1+jℓ} = subs[r][:, j]."""
        s = torch.empty(len(subs[0]), self.N, dtype=torch.long)
        for r, sub in enumerate(subs):
            s[:, r :: self.lag] = sub[:, : self.lengths[r]]
        return s

    def sample_states(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n, N) states s_1..s_N: the n·ℓ sub-chains drawn by one ``walk.sample_states``
        call (row b·ℓ + r is sub-chain r of sequence b), then interleaved."""
        sub = self.states(self.walk.sample_states(n * self.lag, gen))  # (n·ℓ, L_0)
        if self.lag == 1:
            return sub  # (n, N)
        return self.interleave(list(sub.view(n, self.lag, -1).unbind(1)))

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` sequences: tokens (n, N−1) and labels (n,)."""
        s = self.sample_states(n, gen)
        return s[:, :-1].contiguous(), s[:, -1].contiguous()

    # ---- exact population ------------------------------------------------------------------
    def _sub_chain(self, r: int) -> MarkovChain | None:
        """The chain on contexts of sub-chain r (None when it holds a single context)."""
        n = self.lengths[r] - self.order + 1
        return MarkovChain(self.walk.Pi, self.walk.mu, n) if n >= 2 else None

    def population_rows(self) -> int:
        """Paths of positive probability (counted, not enumerated; > MAX_POPULATION_ROWS
        means too many): the product over the sub-chains."""
        rows = 1
        for r in range(self.lag):
            sub = self._sub_chain(r)
            rows *= int((self.mu > 0).sum()) if sub is None else population_size(sub.Pi, sub.mu, sub.N)
            if rows > MAX_POPULATION_ROWS:
                break
        return rows

    def population(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every length-N sequence of positive probability: tokens (R, N−1), y (R,) and the
        sequence probabilities (R,) summing to 1 (the population expectation is the weighted
        mean). Each sub-chain's paths come from ``MarkovChain.population``; a sequence is one
        path per sub-chain (their product, sub-chain 0 slowest)."""
        if (rows := self.population_rows()) > MAX_POPULATION_ROWS:
            raise ConfigError(f"train.data='population' is not allowed: {rows}+ paths for task.K={self.K}, "
                              f"task.N={self.N}, task.lag={self.lag}, task.order={self.order}; at most "
                              f"{MAX_POPULATION_ROWS} (use a smaller N or train.data=fixed)")
        paths, probs = [], []
        for r in range(self.lag):
            sub = self._sub_chain(r)
            if sub is None:
                c = np.flatnonzero(self.mu > 0)
                ctx, w = torch.from_numpy(c)[:, None], torch.from_numpy(self.mu[c])
            else:
                tokens, y, w = sub.population()
                ctx = torch.cat([tokens, y[:, None]], 1)  # (R_r, L_r − k + 1)
            paths.append(self.states(ctx))
            probs.append(w)
        pick = torch.cartesian_prod(*[torch.arange(len(w)) for w in probs]).view(-1, self.lag)  # (R, ℓ)
        s = self.interleave([p[pick[:, r]] for r, p in enumerate(paths)])  # (R, N)
        w = torch.stack([p[pick[:, r]] for r, p in enumerate(probs)]).prod(0)  # (R,)
        return s[:, :-1].contiguous(), s[:, -1].contiguous(), w


def _integer(key: str, x, least: int) -> None:
    if not (isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= least):
        raise ConfigError(f"{key}={x!r} is not allowed: an integer >= {least}")


def check_shape(N: int, lag: int, order: int, init_law: str) -> None:
    """The checks that need no table: integers, kℓ <= N − 1, the init law's name."""
    for key, x, least in (("task.N", N, 2), ("task.lag", lag, 1), ("task.order", order, 1)):
        _integer(key, x, least)
    if order * lag > N - 1:
        what = "the parent x_{N-lag}" if order == 1 else "the context x_{N-order·lag}..x_{N-lag}"
        raise ConfigError(f"task.lag={lag} is not allowed: order·lag <= task.N − 1 = {N - 1} "
                          f"(task.order={order}), so that {what} is observed")
    if init_law not in INIT_LAWS:
        raise ConfigError(f"task.init_law={init_law!r} is not allowed: one of {' | '.join(INIT_LAWS)}")


def make_chain(cfg) -> ChainTask:
    """The ``task.name=chain`` task of ``cfg`` (every check runs here; nothing is sampled).
    Keys are read with their defaults, so this works before the task.* keys exist."""
    t = cfg.task
    get = lambda key, default: getattr(t, key, default)  # noqa: E731
    N, lag, order, law = get("N", 97), get("lag", 1), get("order", 1), get("init_law", "uniform")
    check_shape(N, lag, order, law)
    table = graphs.transition_table(t)
    walk = None
    if get("graph", "circle") == "circle":  # doubly stochastic: stationary = uniform, both laws one task
        walk = CircleWalk(table.shape[1], len(range(0, N, lag)), get("p", 0.5))
    return ChainTask(table, N, lag, order, law, walk)


def check(cfg) -> None:
    """Every check of ``task.name=chain`` (table, lag, order, init law), without sampling:
    a one-line ConfigError on the first bad value."""
    make_chain(cfg)
