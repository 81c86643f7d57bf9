"""Checks across the keys of the transformer families (model.name=shi-cao|gpt): the
combinations of attention, positions, embedding, read-out, loss and initialisation that
no model implements, each a one-line ``ConfigError`` naming the key, its value and what
is allowed. ``config.validate`` calls :func:`check_transformer` on a resolved config
after each value alone passed the registry (``keys.py``); which keys apply to which
model is the registry's ``when``, not this file's.

Widths (the reference transformer, models/transformer.py): the token part of x~_i has
D_t = K (onehot) or model.d (learned, scalar); concatenated positions (sin, onehot) add
M, so D = D_t + M, else D = D_t. Split attention with model.d_head=0 gives each head
D // heads.
"""

from __future__ import annotations

from pathlib import Path

from .keys import CONCAT, ConfigError


def _fail(key: str, value, allowed: str) -> None:
    raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def width(cfg) -> int:
    """D, the width of x~_i (the residual stream) of the resolved config."""
    m = cfg.model
    d_t = cfg.task.K if m.embed == "onehot" else m.d
    return d_t + (m.M if m.pos in CONCAT else 0)


def matrix_states(t) -> int | None:
    """The number of states of a chain task ``t`` (cfg.task): task.K, the rows of an inline
    task.matrix, or None (a matrix file: the task reads it)."""
    if t.graph != "matrix":
        return t.K
    if t.matrix.strip() and not t.matrix.strip().lower().endswith((".npy", ".csv", ".json")):
        return len([r for r in t.matrix.split(";") if r.strip()])
    return None


def states(cfg) -> int | None:
    """K of the resolved task (None: a matrix file)."""
    return matrix_states(cfg.task) if cfg.task.name == "chain" else cfg.task.K


def check_transformer(cfg) -> None:
    t, m, i = cfg.task, cfg.model, cfg.init
    K = states(cfg)
    if m.pos in CONCAT:
        if m.pos == "onehot" and m.M < t.N:
            _fail("model.M", m.M, f"M >= N = {t.N} with model.pos=onehot (N orthogonal positions need N dimensions)")
        if m.pos == "sin" and m.M <= t.N:
            _fail("model.M", m.M, f"M > N = {t.N} with model.pos=sin (sin(π i j / M) vanishes at i = M)")
    D = width(cfg)
    if m.attention == "split" and m.d_head == 0 and D % m.heads:
        _fail("model.heads", m.heads, f"heads >= 1 dividing the width D = {D} (model.d_head=0 gives each head "
              f"D // heads; or set model.d_head)")
    if m.pos == "rope":
        if m.attention != "split":
            _fail("model.pos", m.pos, "sin, onehot, learned, sinusoidal or none with model.attention=merged "
                  "(rope rotates q and k: model.attention=split)")
        dh = m.d_head or D // m.heads
        if dh % 2:
            _fail("model.d_head" if m.d_head else "model.heads", m.d_head or m.heads,
                  f"an even head width with model.pos=rope (it rotates pairs of coordinates; the width is {dh})")
    if m.embed == "scalar" and K != 2:
        _fail("model.embed", m.embed, f"onehot or learned with K = {K} states (a scalar embedding x·e needs "
              "binary tokens, K = 2)")
    if m.loss == "bce":
        if K not in (2, None):
            _fail("model.loss", m.loss, f"log-eps or softmax-ce with K = {K} states (bce is for K = 2)")
        if m.head != "unembed":
            _fail("model.loss", m.loss, f"log-eps or softmax-ce with model.head={m.head} (bce reads one logit: "
                  "model.head=unembed)")
    if m.layout == "slot" and t.name == "binary":
        _fail("model.layout", m.layout, "causal with task.name=binary (its targets are at every position)")
    if m.head == "relu" and i.scheme == "zero":
        _fail("init.scheme", i.scheme, "gaussian with model.head=relu (A = V = 0 is a saddle whose gradient is zero)")
    if i.scheme == "anti-aligned" and m.mlp != "relu":
        _fail("init.scheme", i.scheme, "zero, gaussian or standard with model.mlp=none (anti-aligned sets the "
              "MLP's W_in = +c, W_out = -c: model.mlp=relu)")
    if i.scheme == "rank-one" and (m.embed, m.mlp, m.pos) != ("scalar", "relu", "learned"):
        _fail("init.scheme", i.scheme, "zero, gaussian or standard unless model.embed=scalar, model.mlp=relu and "
              f"model.pos=learned (rank-one aligns e, W_pos, W_V and the MLP; here {m.embed}, {m.mlp}, {m.pos})")
    if cfg.train.path == "autograd" and m.name != "shi-cao":
        _fail("train.path", cfg.train.path, f"fast or reference with model.name={m.name} (autograd is the dense "
              "shi-cao model)")
    if i.from_:
        check_init_from(i.from_)


def check_init_from(path: str) -> None:
    """``init.from`` names a run directory with params.safetensors and config.json (their
    shapes are checked against the model when it is built)."""
    d = Path(path)
    if not d.is_dir():
        _fail("init.from", path, "a run directory (with params.safetensors and config.json); "
              + ("it is a file" if d.exists() else "it does not exist"))
    missing = [f for f in ("params.safetensors", "config.json") if not (d / f).is_file()]
    if missing:
        _fail("init.from", path, f"a run directory with params.safetensors and config.json; it has no "
              f"{' and no '.join(missing)}")
