"""Validation of a resolved config (``config.resolve`` calls :func:`validate`): each value
alone against the registry (``keys.py``), then across keys: the model family and its
task, seeds and steps, the chain task (``tasks.chain.check``), the memory a run needs
(``limits.py``), and the transformer families' combinations of attention, positions,
embedding, read-out, loss and initialisation that no model implements
(:func:`check_transformer`). Each problem is a one-line ``ConfigError`` naming the key,
its value and what is allowed; which keys apply to which model is the registry's
``when``, not this file's.

Widths (the reference transformer, models/transformer.py): the token part of x~_i has
D_t = K (onehot) or model.d (learned, scalar); concatenated positions (sin, onehot) add
M, so D = D_t + M, else D = D_t. Split attention with model.d_head=0 gives each head
D // heads.
"""

from __future__ import annotations

from pathlib import Path

from . import keys as _keys
from . import limits
from .config import MAX_SEED, MODEL_INITS, MODEL_TASKS, get
from . import losses, positions
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
    D = width(cfg)
    bad = positions.check(m, t, D)  # the position scheme's own rule (positions/<scheme>.py)
    if bad:
        _fail(*bad)
    if m.attention == "split" and m.d_head == 0 and D % m.heads:
        _fail("model.heads", m.heads, f"heads >= 1 dividing the width D = {D} (model.d_head=0 gives each head "
              f"D // heads; or set model.d_head)")
    if m.embed == "scalar" and K != 2:
        _fail("model.embed", m.embed, f"onehot or learned with K = {K} states (a scalar embedding x·e needs "
              "binary tokens, K = 2)")
    bad = losses.check(m, K)  # the loss's own rule (losses/<loss>.py)
    if bad:
        _fail(*bad)
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


def validate(cfg) -> None:
    """Raise ConfigError on the first bad value, naming the key, the value and what is
    allowed: each value alone (the registry's choices and ranges), then across keys."""
    bad = _keys.check_values(lambda k: get(cfg, k))
    if bad:
        raise ConfigError(bad)
    t, m, i, tr, ev = cfg.task, cfg.model, cfg.init, cfg.train, cfg.eval
    if t.name not in MODEL_TASKS[m.name]:
        _fail("model.name", m.name, f"with task.name={t.name} one of "
              f"{', '.join(k for k, v in MODEL_TASKS.items() if t.name in v)}")
    if i.scheme not in MODEL_INITS[m.name]:
        _fail("init.scheme", i.scheme, f"with model.name={m.name} one of {', '.join(MODEL_INITS[m.name])}")
    if not 0 <= tr.steps <= limits.MAX_STEPS:
        _fail("train.steps", tr.steps, f"0 <= steps <= {limits.MAX_STEPS:.0e} (10⁹ steps take hours at the "
              "fastest step measured, ~10 µs)")
    if ev.grid == "log" and m.name != "shi-cao":
        _fail("eval.grid", ev.grid, f"every with model.name={m.name} (its trainer logs every eval.every steps)")
    if ev.f_distance and m.name != "shi-cao":
        _fail("eval.f_distance", ev.f_distance, f"false with model.name={m.name} (its trainer has no f_OPT)")
    if ev.grid == "log" and ev.every != 1:
        _fail("eval.every", ev.every, "1 with eval.grid=log (the log grid alone sets the logged steps)")
    if not 0 <= cfg.seed <= MAX_SEED:
        _fail("seed", cfg.seed, f"0 <= seed <= {MAX_SEED} (the range the random generators take)")
    if i.seed < -1 or i.seed > MAX_SEED or (i.seed != -1 and m.name != "shi-cao"):
        _fail("init.seed", i.seed, f"-1 (the run's seed) or, with model.name=shi-cao, 0 <= seed <= {MAX_SEED}")
    if m.name == "shi-cao" and tr.optimizer != "gd":
        _fail("train.optimizer", tr.optimizer, "gd with model.name=shi-cao (its step size is train.eta)")
    if t.name == "binary":
        if t.p + t.q <= 0:
            _fail("task.q", t.q, "p + q > 0 (with p = q = 0 the chain never moves: no unique stationary law)")
    else:
        if t.name != "chain" and t.K < 3:
            _fail("task.K", t.K, "K >= 3 (a circle needs two distinct neighbours)")
        if t.N < 2:
            _fail("task.N", t.N, "N >= 2 (at least one observed token and the predicted slot)")
    if t.name == "chain":
        _validate_chain(cfg)
    if m.name in _keys.TRANSFORMER:
        check_transformer(cfg)
    check_size(cfg)


def _validate_chain(cfg) -> None:
    """task.name=chain: the graph's seed and the lag; then the task's own check
    (``tasks.chain.check``: the graph and its matrix, order·lag <= N-1, K^order contexts)."""
    t = cfg.task
    if not 0 <= t.graph_seed <= MAX_SEED:
        _fail("task.graph_seed", t.graph_seed, f"0 <= seed <= {MAX_SEED}")
    if t.lag > t.N - 1:
        _fail("task.lag", t.lag, f"1 <= lag <= N-1 = {t.N - 1} (the parent x_{{N-lag}} must be one of the N-1 "
              "observed tokens)")
    from .tasks.chain import check

    check(cfg)


def check_size(cfg) -> None:
    """Refuse a run that cannot fit: more population paths than ``MAX_POPULATION_ROWS``, or
    an upper bound on its memory (``limits.py``) above the machine's total memory."""
    rows = None
    if cfg.train.data == "population" and cfg.task.name != "binary":
        _check_memory(cfg, 0)  # K, M and N alone first: counting the paths builds the (K, K) Π
        if cfg.task.name == "chain":  # counted by the task itself, over its sub-chains
            from .tasks.chain import make_chain
            from .tasks.markov import MAX_POPULATION_ROWS

            rows, most = make_chain(cfg).population_rows(), MAX_POPULATION_ROWS
        else:
            rows, most = limits.population_rows(cfg.task.name, cfg.task.K, cfg.task.N, cfg.task.p)
        if rows > most:
            _fail("train.data", "population", f"at most {most} paths, and task.K={cfg.task.K}, task.N={cfg.task.N} "
                  f"give {rows}+ (use a smaller N or train.data=fixed)")
    _check_memory(cfg, rows)


def _check_memory(cfg, rows: int | None) -> None:
    total, terms = limits.machine_memory(), limits.memory_terms(cfg, rows)
    need = sum(b for _, b, _ in terms)
    if total is not None and need > total:
        what, b, ks = max(terms, key=lambda x: x[1])
        at = ", ".join(f"{k}={get(cfg, k)}" for k in ks)
        raise ConfigError(f"{at}: a run needs about {limits.gib(need)} ({what}: {limits.gib(b)}), more than this "
                          f"machine's {limits.gib(total)} of memory; allowed: a run that fits (see limits.py)")
