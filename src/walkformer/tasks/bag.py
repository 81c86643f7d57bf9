"""Bag-of-states accuracy: the best accuracy of any predictor that sees only the multiset
of x_1 … x_{N−1} (numpy only, no torch).

Why. Without positional embeddings (``model.pos=none``) the query slot x̃_N = [0; p_N]
of Shi & Cao's model (eq. 2.1) is the zero vector, so the attention logits
x̃_jᵀ W x̃_N vanish for every W and the attention is uniform: f(X) = V X 1 / N = V c / N
with c ∈ ℕ^K the *count vector* of the visited states (c_k = #{i < N : s_i = k}).
More generally any one-layer transformer whose input carries no position is invariant
under permuting the tokens, so it sees only c. No such predictor beats the Bayes rule
on c, whose accuracy we call the *bag accuracy*:

    BAG = E_c[ max_y P(y | c) ] = Σ_c max_y Σ_l P(c, s_{N−1} = l) Π[l, y]

(the sum over count vectors of sum n = N − 1). The authors' rebuttal says that without
positions no one-layer transformer beats random guessing, 1/K; BAG says exactly how
far the task itself allows to go.

How it is computed (:func:`bag_accuracy`, cached per (Π, μ, N) in the process):

1. **Closed form**, the deterministic circle (Π a cyclic shift, p ∈ {0, 1}) with a
   uniform start: the n = N − 1 visited states are s_1, s_1 ± 1, …, so c_k =
   ⌊n/K⌋ + 1{k in the arc of r = n mod K states from s_1}. If r = 0 the counts are the
   same for every start, P(y | c) = 1/K and BAG = 1/K exactly; otherwise the arc
   reveals s_1, hence s_{N−1} and y, and BAG = 1.
2. **Exact dynamic programme** (:func:`joint_counts_last`) while the number of count
   vectors C(n + K − 1, K − 1) is at most ``EXACT_MAX_VECTORS``: over prefixes,

       F_1(e_k, k) = μ_k,    F_{m+1}(c + e_j, j) = Σ_l F_m(c, l) Π[l, j],

   F_m(c, l) = P(counts of s_1..s_m = c, s_m = l); BAG from F_n as above.
3. **Monte Carlo** beyond that (N = 97, 98 with 0 < p < 1 for K = 6: 8·10⁷ vectors):
   draw S walks, and for each drawn c compute P(c, l) for every l *exactly*, so that
   q(c) = max_y P(y | c) is exact and BAG_S = mean q(c_i) is an unbiased estimate of BAG
   with standard error sd(q)/√S (returned). The exact P(c, ·) of one c comes from
   - the same DP restricted to sub-vectors c' ≤ c (:func:`joint_of_counts`; any chain,
     cost Π_k (c_k + 1), slow for long walks), or, much faster, for chains that move only to the two
     neighbours on a cycle (the circle walk),
   - the BEST theorem (:func:`cycle_joint_of_counts`): a walk s → l is an Eulerian trail
     of the multigraph with e_k arcs k → k+1 and f_k arcs k+1 → k; given (c, s, l) these
     arc counts solve out(k) = e_k + f_{k−1} = c_k − 1{k = l}, in(k) = e_{k−1} + f_k =
     c_k − 1{k = s} (at most two free integers), and with G' = G + arc(l → s)

       #walks(s → l; e, f) = t(G') Π_k (c_k − 1)! / Π_k (e_k! f_k!),

     t(G') the number of spanning arborescences (matrix-tree theorem, a (K−1)² det),
     so P(c, l) = Σ_s μ_s Σ_{e,f} Π_k Π[k, k+1]^{e_k} Π[k+1, k]^{f_k} #walks(s → l; e, f).
"""

from __future__ import annotations

import math

import numpy as np

EXACT_MAX_VECTORS = 500_000  # count vectors in the exact DP (K = 6: N <= 33; N = 25 takes ~0.01 s)
MC_SAMPLES = 300  # walks in the Monte Carlo estimate (K = 6, N = 97: ~0.8 s, SE <= 0.005)
MC_SEED = 0
_CACHE: dict[tuple, tuple[float, float | None]] = {}


def n_count_vectors(K: int, n: int) -> int:
    """Count vectors of n tokens over K states: C(n + K − 1, K − 1)."""
    return math.comb(n + K - 1, K - 1)


# ---- exact: DP over (count vector, last state) -------------------------------------
def joint_counts_last(Pi, mu, n: int, cap=None) -> tuple[np.ndarray, np.ndarray]:
    """All count vectors c of s_1..s_n (sum n) with P(c, s_n = l) for every l.

    Returns ``(counts (V, K) int, P (V, K))``. With ``cap`` (K,) only sub-vectors of
    ``cap`` are followed (then ``n = sum(cap)`` gives the one row ``cap``)."""
    Pi, mu = np.asarray(Pi, float), np.asarray(mu, float)
    K = len(mu)
    base = (n + 1) ** np.arange(K, dtype=np.int64)  # code(c) = Σ c_k (n+1)^k
    cap_arr = None if cap is None else np.asarray(cap, dtype=np.int64)
    codes = base.copy()  # layer m = 1: c = e_k, last state k
    P = np.diag(mu)
    keep = mu > 0 if cap_arr is None else (mu > 0) & (cap_arr > 0)
    codes, P = codes[keep], P[keep]
    for _ in range(1, n):
        Q = P @ Pi  # (V, K): Q[c, j] = P(c, then s_{m+1} = j)
        new_codes, parts = [], []
        for j in range(K):
            ok = Q[:, j] > 0
            if cap_arr is not None:
                ok &= (codes // base[j]) % (n + 1) < cap_arr[j]
            new_codes.append(codes[ok] + base[j])
            parts.append((j, Q[ok, j]))
        allc = np.concatenate(new_codes)
        codes, inv = np.unique(allc, return_inverse=True)
        P = np.zeros((len(codes), K))
        start = 0
        for j, q in parts:  # c -> c + e_j is one-to-one for a fixed j: no sums needed
            P[inv[start:start + len(q)], j] = q
            start += len(q)
    counts = (codes[:, None] // base[None, :]) % (n + 1)
    return counts, P


def bag_accuracy_exact(Pi, mu, N: int) -> float:
    """BAG = Σ_c max_y Σ_l P(c, l) Π[l, y] by the DP over all count vectors of N − 1 tokens."""
    _, P = joint_counts_last(Pi, mu, N - 1)
    return float((P @ np.asarray(Pi, float)).max(axis=1).sum())


def joint_of_counts(Pi, mu, c) -> np.ndarray:
    """P(counts of s_1..s_n = c, s_n = l) for every l, (K,): the DP restricted to c' ≤ c."""
    c = np.asarray(c, dtype=np.int64)
    counts, P = joint_counts_last(Pi, mu, int(c.sum()), cap=c)
    row = np.flatnonzero((counts == c).all(axis=1))
    return P[row[0]] if len(row) else np.zeros(len(c))


# ---- exact P(c, ·) for nearest-neighbour chains on a cycle (BEST theorem) ----------
def on_cycle(Pi) -> bool:
    """Π moves only to the two cycle neighbours (Π[i, j] = 0 unless j ≡ i ± 1), K ≥ 3."""
    Pi = np.asarray(Pi, float)
    K = len(Pi)
    i = np.arange(K)
    mask = np.zeros((K, K), bool)
    mask[i, (i + 1) % K] = mask[i, (i - 1) % K] = True
    return K >= 3 and not (Pi[~mask] != 0).any()


def _lfact(x):
    """log x! elementwise, for integers 0 <= x (a table of cumulative logs)."""
    x = np.asarray(x, dtype=np.int64)
    table = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, int(x.max(initial=0)) + 1)))])
    return table[x]


def cycle_joint_of_counts(Pi, mu, c) -> np.ndarray:
    """P(counts of s_1..s_n = c, s_n = l) for every l, (K,), for Π on a cycle (BEST theorem)."""
    Pi, mu, c = np.asarray(Pi, float), np.asarray(mu, float), np.asarray(c, dtype=np.int64)
    K, n = len(c), int(c.sum())
    k = np.arange(K)
    if n == 1:
        return mu * (c == 1)
    with np.errstate(divide="ignore"):
        lup, ldown = np.log(Pi[k, (k + 1) % K]), np.log(Pi[(k + 1) % K, k])  # log Π[k,k+1], log Π[k+1,k]
    S, L, E0, E1 = np.meshgrid(k, k, np.arange(c[0] + 1), np.arange(c[1] + 1), indexing="ij")
    S, L, E0, E1 = S.ravel(), L.ravel(), E0.ravel(), E1.ravel()  # candidates (s, l, e_0, e_1)
    out_ = c[None, :] - (k[None, :] == L[:, None])  # (R, K) out-degrees c_k − 1{k = l}
    in_ = c[None, :] - (k[None, :] == S[:, None])  # in-degrees c_k − 1{k = s}
    e = np.zeros((len(S), K + 2), dtype=np.int64)
    e[:, 0], e[:, 1] = E0, E1
    for j in range(1, K + 1):  # e_{j+1} = e_{j−1} + out_{j+1} − in_j  (indices mod K)
        e[:, j + 1] = e[:, j - 1] + out_[:, (j + 1) % K] - in_[:, j % K]
    ok = (e[:, K] == e[:, 0]) & (e[:, K + 1] == e[:, 1])
    e = e[:, :K]
    f = in_ - np.roll(e, 1, axis=1)  # f_k = in_k − e_{k−1}
    ok &= (e >= 0).all(1) & (f >= 0).all(1) & (e + np.roll(f, 1, axis=1) == out_).all(1)
    ok &= mu[S] > 0
    S, L, e, f = S[ok], L[ok], e[ok], f[ok]
    logw = (np.where(e > 0, e * lup, 0.0) + np.where(f > 0, f * ldown, 0.0)).sum(1)
    logw += np.log(mu[S]) - (_lfact(e) + _lfact(f)).sum(1) + _lfact(np.maximum(c - 1, 0)).sum()
    # Laplacian of G' = G + arc(l -> s), out-degree form, root s removed; unvisited states: identity
    A = np.zeros((len(S), K, K))
    r = np.arange(len(S))
    A[:, k, (k + 1) % K] += e
    A[:, (k + 1) % K, k] += f
    A[r, L, S] += 1.0
    Lap = -A
    Lap[:, k, k] += A.sum(2)
    Lap[r, S, :] = 0.0
    Lap[r, :, S] = 0.0
    Lap[r, S, S] = 1.0
    Lap[:, c == 0, :] = 0.0
    Lap[:, :, c == 0] = 0.0
    Lap[:, c == 0, c == 0] = 1.0
    trees = np.linalg.det(Lap) if len(S) else np.zeros(0)
    good = trees > 0.5  # an integer; 0 when the visited states are not connected
    out = np.zeros(K)
    np.add.at(out, L[good], np.exp(logw[good] + np.log(np.rint(trees[good]))))
    return out


# ---- Monte Carlo ----------------------------------------------------------------------
def sample_counts(Pi, mu, n: int, samples: int, rng) -> np.ndarray:
    """Count vectors (samples, K) of s_1..s_n drawn from the chain."""
    Pi, mu = np.asarray(Pi, float), np.asarray(mu, float)
    K = len(mu)
    cum = np.cumsum(Pi, axis=1)
    cum[:, -1] = 1.0 + 1e-12
    cum0 = np.cumsum(mu)
    cum0[-1] = 1.0 + 1e-12
    s = np.searchsorted(cum0, rng.random(samples), side="right")
    counts = np.zeros((samples, K), dtype=np.int64)
    rows = np.arange(samples)
    counts[rows, s] += 1
    for _ in range(1, n):
        s = (rng.random(samples)[:, None] >= cum[s]).sum(1)
        counts[rows, s] += 1
    return counts


def bag_accuracy_mc(Pi, mu, N: int, samples: int = MC_SAMPLES, seed: int = MC_SEED) -> tuple[float, float]:
    """(estimate, standard error) of BAG: mean over ``samples`` drawn walks of the exact
    q(c) = max_y P(y | c) (P(c, ·) by BEST on a cycle, else the restricted DP)."""
    Pi, mu = np.asarray(Pi, float), np.asarray(mu, float)
    counts = sample_counts(Pi, mu, N - 1, samples, np.random.default_rng(seed))
    uniq, inv = np.unique(counts, axis=0, return_inverse=True)
    joint = cycle_joint_of_counts if on_cycle(Pi) else joint_of_counts
    q = np.empty(len(uniq))
    for i, c in enumerate(uniq):
        PcY = joint(Pi, mu, c) @ Pi  # (K,): P(c, y)
        q[i] = PcY.max() / PcY.sum()
    v = q[np.ravel(inv)]
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(samples))


# ---- the dispatcher ------------------------------------------------------------------
def deterministic_cycle(Pi, mu) -> bool:
    """Π is the shift k -> k+1 (or k -> k−1) of a cycle and μ uniform (the circle, p ∈ {0, 1})."""
    Pi, mu = np.asarray(Pi, float), np.asarray(mu, float)
    K = len(mu)
    eye = np.eye(K)
    return K >= 3 and np.allclose(mu, 1.0 / K) and any(np.array_equal(Pi, np.roll(eye, d, axis=1)) for d in (1, -1))


def bag_accuracy(Pi, mu, N: int) -> tuple[float, float | None]:
    """(BAG, standard error): closed form, exact DP (SE None), or Monte Carlo (SE a number);
    cached per (Π, μ, N) in the process."""
    Pi, mu = np.asarray(Pi, float), np.asarray(mu, float)
    key = (Pi.tobytes(), mu.tobytes(), N)
    if key not in _CACHE:
        K, n = len(mu), N - 1
        if deterministic_cycle(Pi, mu):
            _CACHE[key] = (1.0 / K if n % K == 0 else 1.0, None)
        elif n_count_vectors(K, n) <= EXACT_MAX_VECTORS:
            _CACHE[key] = (bag_accuracy_exact(Pi, mu, N), None)
        else:
            _CACHE[key] = bag_accuracy_mc(Pi, mu, N)
    return _CACHE[key]


def bag_fields(task) -> dict:
    """summary.json fields of a ``model.pos=none`` run: ``bag_accuracy`` and
    ``bag_accuracy_se`` (None when exact); both None for a task that is not a Markov chain."""
    if getattr(task, "Pi", None) is None or getattr(task, "mu", None) is None:
        return {"bag_accuracy": None, "bag_accuracy_se": None}
    acc, se = bag_accuracy(task.Pi, task.mu, task.N)
    return {"bag_accuracy": acc, "bag_accuracy_se": se}
