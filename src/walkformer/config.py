"""Typed run configuration, dotted ``key=value`` overrides and validation.

A run is fully described by :class:`Config`. Every leaf has a dotted name
(``task.p``, ``train.eta``, ``seed`` ...); these names are the stable contract of
the CLI. Bad input raises :class:`ConfigError`, whose message is one line that
names the key, the value and what is allowed. :func:`logged` says which steps a run
evaluates (``eval.grid``, ``eval.every``, ``eval.per_decade``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import math
from dataclasses import dataclass, field
from typing import Any

from . import limits

# The three random streams of a run, each seeded from ``seed`` alone (so the test set
# does not move when n_train changes, and init.seed can vary the initialisation only).
STREAMS = {"data": 1, "test": 2, "init": 3}


def stream_seed(seed: int, stream: str) -> int:
    """The integer seed of one stream (``data``, ``test`` or ``init``) of run ``seed``."""
    return seed * 1_000_003 + STREAMS[stream]


# The largest seed whose every stream seed fits the generators: torch's manual_seed takes
# an unsigned 64-bit integer (numpy's default_rng any size), so seed·1_000_003 + 3 < 2⁶⁴.
MAX_SEED = (2**64 - 1 - max(STREAMS.values())) // 1_000_003  # 18_446_688_733_643 ≈ 1.8e13

# Sizes implied by the question-answering tasks of Sec. 6: (vocabulary K, length N).
QA_SHAPES = {"qa1": (19, 17), "qa2": (19, 19)}


class ConfigError(ValueError):
    """A bad configuration value; ``str(err)`` is a one-line, user-facing message."""


@dataclass
class TaskConfig:
    name: str = "circle"  # circle | qa1 | qa2 | binary
    K: int = 6  # number of states (circle) or vocabulary size (qa); 2 for binary
    N: int = 97  # sequence length including the predicted slot (binary: input length)
    p: float = 0.5  # probability of a clockwise step (binary: P(1 | 0))
    q: float = 0.8  # binary only: P(0 | 1)


@dataclass
class ModelConfig:
    name: str = "shi-cao"
    pos: str = "sin"  # sin | onehot | none
    M: int = 1000  # positional dimension
    normalize: bool = False  # unit-length x~_i inside the softmax (paper Sec. 5)
    head: str = "linear"  # linear: f = V X S ; relu: f = A ReLU(V X S) (App. F.2)
    m: int = 19  # hidden width of the relu head
    d: int = 8  # gpt: width
    layers: int = 1  # gpt: transformer blocks
    heads: int = 1  # gpt: attention heads (d must be divisible by heads)
    tie: bool = True  # gpt: output vector a = embedding e
    layernorm: bool = False  # gpt: pre-LayerNorm in each block and before the head


@dataclass
class InitConfig:
    scheme: str = "zero"  # zero | gaussian
    sigma: float = 0.01  # std of the gaussian init
    c: float = 1.0  # anti-aligned init: W_in = +c, W_out = -c (canonical: (e, w) = (c, -c))
    seed: int = -1  # shi-cao: seed of the initial parameters; -1: the run's seed (data stay on ``seed``)


@dataclass
class TrainConfig:
    eta: float = 1.0  # learning rate
    eps: float = 0.1  # stability constant of the loss -log(z + eps)
    steps: int = 50
    n_train: int = 1000
    data: str = "fixed"  # fixed | online | population
    path: str = "fast"  # fast | autograd (dense reference, for checking)
    optimizer: str = "gd"  # gpt/canonical: gd | sgd | adamw (shi-cao: gd with train.eta)
    lr: float = 2e-3  # gpt/canonical learning rate (peak of the one-cycle schedule)
    momentum: float = 0.9  # sgd momentum
    batch: int = 16  # gpt: fresh sequences per step


@dataclass
class EvalConfig:
    n_test: int = 1000
    every: int = 1  # grid=every: log metrics every this many steps (and at the last step)
    grid: str = "every"  # every | log: step 0, the distinct round(10^(k/per_decade)), k >= 0, and the last step
    per_decade: int = 10  # grid=log: logged points per decade of steps
    f_distance: bool = False  # also log f_opt_distance, f_sqrt_distance (shi-cao; ~17% of a Fig. 4 step)


@dataclass
class Config:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0
    dtype: str = "float64"  # float32 | float64

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


CHOICES = {
    "task.name": ("circle", "qa1", "qa2", "binary"),
    "model.name": ("shi-cao", "gpt", "canonical"),
    "model.pos": ("sin", "onehot", "none"),
    "model.head": ("linear", "relu"),
    "init.scheme": ("zero", "gaussian", "standard", "anti-aligned", "rank-one"),
    "train.data": ("fixed", "online", "population"),
    "train.path": ("fast", "autograd"),
    "train.optimizer": ("gd", "sgd", "adamw"),
    "eval.grid": ("every", "log"),
    "dtype": ("float32", "float64"),
}


def _leaves(obj: Any, prefix: str = "") -> dict[str, tuple[Any, type]]:
    """Map every dotted key to (owner dataclass instance, field type)."""
    out = {}
    for f in dataclasses.fields(obj):
        val = getattr(obj, f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(val):
            out.update(_leaves(val, key + "."))
        else:
            out[key] = (obj, type(val))
    return out


def keys() -> list[str]:
    """All dotted keys a user may set."""
    return sorted(_leaves(Config()))


def _parse(key: str, raw: Any, typ: type) -> Any:
    if not isinstance(raw, str):  # programmatic use: accept the right python type
        if typ is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, typ) and not (typ is int and isinstance(raw, bool)):
            return raw
        raise ConfigError(f"{key}={raw!r}: expected {typ.__name__}, got {type(raw).__name__}")
    s = raw.strip()
    try:
        if typ is bool:
            low = s.lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            return int(s)
        if typ is float:
            return float(s)
    except ValueError:
        what = {bool: "true or false", int: "an integer", float: "a number"}[typ]
        raise ConfigError(f"{key}={raw!r}: expected {what}") from None
    return s


def apply_overrides(cfg: Config, overrides: dict[str, Any] | list[str]) -> Config:
    """Return a copy of ``cfg`` with dotted overrides applied (``["task.p=0.3"]`` or a dict)."""
    if isinstance(overrides, (list, tuple)):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"{item!r}: overrides are key=value, e.g. task.p=0.3")
            k, v = item.split("=", 1)
            if k.strip() in pairs:
                raise ConfigError(f"{k.strip()} is given twice ({pairs[k.strip()]!r}, then {v!r}): give each key once")
            pairs[k.strip()] = v
        overrides = pairs
    cfg = copy_config(cfg)
    leaves = _leaves(cfg)
    for key, raw in overrides.items():
        if key not in leaves:
            near = difflib.get_close_matches(key, list(leaves), n=1, cutoff=0.5)
            hint = f"; did you mean {near[0]}?" if near else f"; known keys: {', '.join(sorted(leaves))}"
            raise ConfigError(f"unknown key {key!r}{hint}")
        owner, typ = leaves[key]
        setattr(owner, key.rsplit(".", 1)[-1], _parse(key, raw, typ))
    return cfg


def copy_config(cfg: Config) -> Config:
    return copy.deepcopy(cfg)


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts to dotted keys: {"task": {"p": 0.5}} -> {"task.p": 0.5}."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten(v, f"{prefix}{k}.")
        else:
            out[prefix + k] = v
    return out


def from_dict(d: dict[str, Any]) -> Config:
    """Inverse of :meth:`Config.to_dict` (extra top-level keys such as versions are ignored)."""
    cfg = Config()
    flat = {}
    for k, v in d.items():
        if isinstance(v, dict) and k in ("task", "model", "init", "train", "eval"):
            flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        elif k in ("seed", "dtype"):
            flat[k] = v
    return apply_overrides(cfg, flat)


@functools.lru_cache(maxsize=64)
def log_grid(per_decade: int, steps: int) -> frozenset[int]:
    """The steps ``eval.grid=log`` evaluates: 0, the distinct integers ⌊10^(k/per_decade) + ½⌋
    for k = 0, 1, ... up to ``steps``, and ``steps`` (e.g. 34 of 3001 steps at 10 a decade)."""
    out, k = {0, steps}, 0
    while (t := math.floor(10 ** (k / per_decade) + 0.5)) <= steps:
        out.add(t)
        k += 1
    return frozenset(out)


def logged(ev: EvalConfig, step: int, steps: int) -> bool:
    """Whether a run of ``steps`` GD steps evaluates (logs a metrics line) at ``step``:
    ``eval.grid=every``: every ``eval.every``-th step; ``log``: :func:`log_grid`; both
    always log step 0 and the last step."""
    if ev.grid == "log":
        return step in log_grid(ev.per_decade, steps)
    return step % ev.every == 0 or step == steps


def get(cfg: Config, key: str) -> Any:
    obj = cfg
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


# Defaults that depend on model.name (applied to keys the user did not give): the
# papers' settings of "Attention with Markov" / "Local to Global".
IMPLIED = {
    "gpt": {"task.N": 1024, "init.scheme": "standard", "train.optimizer": "adamw", "train.steps": 500,
            "eval.n_test": 32, "eval.every": 10, "dtype": "float32"},
    "canonical": {"init.scheme": "gaussian", "train.optimizer": "sgd", "train.lr": 0.01, "train.steps": 500},
}
# Which task and which init schemes go with which model.
MODEL_TASKS = {"shi-cao": ("circle", "qa1", "qa2"), "gpt": ("binary",), "canonical": ("binary",)}
MODEL_INITS = {"shi-cao": ("zero", "gaussian"), "gpt": ("standard", "anti-aligned", "rank-one"),
               "canonical": ("zero", "gaussian", "anti-aligned")}


def resolve(cfg: Config, explicit: set[str] | None = None) -> Config:
    """Fill in values implied by others (the QA tasks fix K and N; model.name implies
    the defaults in IMPLIED; binary fixes K = 2), then validate."""
    cfg = copy_config(cfg)
    explicit = explicit or set()
    for key, want in IMPLIED.get(cfg.model.name, {}).items():
        if key not in explicit:
            owner, _ = _leaves(cfg)[key]
            setattr(owner, key.rsplit(".", 1)[-1], want)
    if cfg.task.name == "binary":
        if "task.K" in explicit and cfg.task.K != 2:
            raise ConfigError(f"task.K={cfg.task.K}: task.name=binary fixes it to 2")
        cfg.task.K = 2
    if cfg.task.name in QA_SHAPES:
        K, N = QA_SHAPES[cfg.task.name]
        for key, want in (("task.K", K), ("task.N", N)):
            if key in explicit and get(cfg, key) != want:
                raise ConfigError(f"{key}={get(cfg, key)}: task.name={cfg.task.name} fixes it to {want}")
        cfg.task.K, cfg.task.N = K, N
    validate(cfg)
    return cfg


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def validate(cfg: Config) -> None:
    """Raise ConfigError on the first bad value, naming the key, the value and what is allowed."""
    for key, allowed in CHOICES.items():
        v = get(cfg, key)
        if v not in allowed:
            near = difflib.get_close_matches(str(v), allowed, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            _fail(key, v, f"one of {', '.join(allowed)}{hint}")
    t, m, i, tr, ev = cfg.task, cfg.model, cfg.init, cfg.train, cfg.eval
    finite = lambda x: isinstance(x, (int, float)) and math.isfinite(x)  # noqa: E731
    if t.name not in MODEL_TASKS[m.name]:
        _fail("model.name", m.name, f"with task.name={t.name} one of "
              f"{', '.join(k for k, v in MODEL_TASKS.items() if t.name in v)}")
    if i.scheme not in MODEL_INITS[m.name]:
        _fail("init.scheme", i.scheme, f"with model.name={m.name} one of {', '.join(MODEL_INITS[m.name])}")
    if not (finite(t.p) and 0.0 <= t.p <= 1.0):
        _fail("task.p", t.p, "a probability in [0, 1]")
    if not (finite(i.sigma) and i.sigma >= 0):
        _fail("init.sigma", i.sigma, "sigma >= 0")
    if not 0 <= tr.steps <= limits.MAX_STEPS:
        _fail("train.steps", tr.steps, f"0 <= steps <= {limits.MAX_STEPS:.0e} (10⁹ steps take hours at the "
              "fastest step measured, ~10 µs)")
    if ev.n_test < 1:
        _fail("eval.n_test", ev.n_test, "n_test >= 1")
    if ev.every < 1:
        _fail("eval.every", ev.every, "every >= 1")
    if ev.per_decade < 1:
        _fail("eval.per_decade", ev.per_decade, "per_decade >= 1 (logged points per decade of steps)")
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
    if t.name == "binary":
        _validate_binary(cfg, finite)
        check_size(cfg)
        return
    if t.K < 3:
        _fail("task.K", t.K, "K >= 3 (a circle needs two distinct neighbours)")
    if t.N < 2:
        _fail("task.N", t.N, "N >= 2 (at least one observed token and the predicted slot)")
    if tr.optimizer != "gd":
        _fail("train.optimizer", tr.optimizer, "gd with model.name=shi-cao (its step size is train.eta)")
    if m.pos == "none":
        pass
    elif m.M < 1:
        _fail("model.M", m.M, "M >= 1")
    elif m.pos == "onehot" and m.M < t.N:
        _fail("model.M", m.M, f"M >= N = {t.N} with model.pos=onehot (N orthogonal positions need N dimensions)")
    elif m.pos == "sin" and m.M <= t.N:
        _fail("model.M", m.M, f"M > N = {t.N} with model.pos=sin (sin(π i j / M) vanishes at i = M)")
    if m.m < 1:
        _fail("model.m", m.m, "m >= 1")
    if not (finite(tr.eta) and tr.eta > 0):
        _fail("train.eta", tr.eta, "eta > 0")
    if not (finite(tr.eps) and tr.eps > 0):
        _fail("train.eps", tr.eps, "eps > 0")
    if tr.n_train < 1:
        _fail("train.n_train", tr.n_train, "n_train >= 1")
    if m.head == "relu" and i.scheme == "zero":
        _fail("init.scheme", i.scheme, "gaussian with model.head=relu (A = V = 0 is a saddle whose gradient is zero)")
    check_size(cfg)


def check_size(cfg: Config) -> None:
    """Refuse a run that cannot fit: more population paths than ``MAX_POPULATION_ROWS``, or
    an upper bound on its memory (``limits.py``) above the machine's total memory."""
    rows = None
    if cfg.train.data == "population" and cfg.model.name == "shi-cao":
        _check_memory(cfg, 0)  # K, M and N alone first: counting the paths builds the (K, K) Π
        rows, most = limits.population_rows(cfg.task.name, cfg.task.K, cfg.task.N, cfg.task.p)
        if rows > most:
            _fail("train.data", "population", f"at most {most} paths, and task.K={cfg.task.K}, task.N={cfg.task.N} "
                  f"give {rows}+ (use a smaller N or train.data=fixed)")
    _check_memory(cfg, rows)


def _check_memory(cfg: Config, rows: int | None) -> None:
    total, terms = limits.machine_memory(), limits.memory_terms(cfg, rows)
    need = sum(b for _, b, _ in terms)
    if total is not None and need > total:
        what, b, ks = max(terms, key=lambda x: x[1])
        at = ", ".join(f"{k}={get(cfg, k)}" for k in ks)
        raise ConfigError(f"{at}: a run needs about {limits.gib(need)} ({what}: {limits.gib(b)}), more than this "
                          f"machine's {limits.gib(total)} of memory; allowed: a run that fits (see limits.py)")

def _validate_binary(cfg: Config, finite) -> None:
    """Checks for task.name=binary (models gpt and canonical)."""
    t, m, i, tr = cfg.task, cfg.model, cfg.init, cfg.train
    if not (finite(t.q) and 0.0 <= t.q <= 1.0):
        _fail("task.q", t.q, "a probability in [0, 1]")
    if t.p + t.q <= 0:
        _fail("task.q", t.q, "p + q > 0 (with p = q = 0 the chain never moves: no unique stationary law)")
    if t.N < 1:
        _fail("task.N", t.N, "N >= 1 (input length)")
    if m.d < 1:
        _fail("model.d", m.d, "d >= 1")
    if m.layers < 1:
        _fail("model.layers", m.layers, "layers >= 1")
    if m.heads < 1 or m.d % m.heads:
        _fail("model.heads", m.heads, f"heads >= 1 dividing model.d = {m.d}")
    if not finite(i.c):
        _fail("init.c", i.c, "a finite number")
    if not (finite(tr.lr) and tr.lr > 0):
        _fail("train.lr", tr.lr, "lr > 0")
    if not (finite(tr.momentum) and 0 <= tr.momentum < 1):
        _fail("train.momentum", tr.momentum, "momentum in [0, 1)")
    if tr.batch < 1:
        _fail("train.batch", tr.batch, "batch >= 1")
