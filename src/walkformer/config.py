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
import keyword
import math
from dataclasses import dataclass, field
from typing import Any

from .keys import REGISTRY, ConfigError, choices  # noqa: F401 (ConfigError: walkformer.config.ConfigError)
from . import keys as _keys

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


@dataclass
class TaskConfig:
    """The data (task.*); each key's meaning, range and users: keys.REGISTRY."""

    name: str = "circle"
    K: int = 6
    N: int = 97
    p: float = 0.5
    q: float = 0.8
    graph: str = "circle"
    matrix: str = ""
    stay: float = 0.5
    degree: int = 3
    alpha: float = 1.0
    graph_seed: int = 0
    lag: int = 1
    order: int = 1
    init_law: str = "uniform"


@dataclass
class ModelConfig:
    """The model family and its architecture (model.*); see keys.REGISTRY."""

    name: str = "shi-cao"
    attention: str = "merged"
    d_head: int = 0
    scale: str = "none"
    residual: bool = False
    bias: bool = False
    layers: int = 1
    heads: int = 1
    mlp: str = "none"
    layernorm: bool = False
    tie: bool = True
    embed: str = "onehot"
    d: int = 8
    pos: str = "sin"
    M: int = 1000
    normalize: bool = False
    layout: str = "slot"
    head: str = "linear"
    m: int = 19
    loss: str = "log-eps"


@dataclass
class InitConfig:
    """The initial parameters (init.*); see keys.REGISTRY."""

    scheme: str = "zero"
    sigma: float = 0.01
    c: float = 1.0
    seed: int = -1
    from_: str = ""  # the key init.from ("from" is a Python keyword): see config.field_name


@dataclass
class TrainConfig:
    """The optimisation (train.*); see keys.REGISTRY."""

    eta: float = 1.0
    eps: float = 0.1
    steps: int = 50
    n_train: int = 1000
    data: str = "fixed"
    path: str = "fast"
    optimizer: str = "gd"
    lr: float = 2e-3
    momentum: float = 0.9
    batch: int = 16


@dataclass
class EvalConfig:
    """What is logged (eval.*); see keys.REGISTRY."""

    n_test: int = 1000
    every: int = 1
    grid: str = "every"
    per_decade: int = 10
    f_distance: bool = False


@dataclass
class Config:
    """Every leaf's meaning, allowed values and users: ``keys.REGISTRY`` (``walkformer keys``)."""
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0
    dtype: str = "float64"

    def to_dict(self) -> dict[str, Any]:
        return _rename(dataclasses.asdict(self))


def _rename(d: dict) -> dict:
    """asdict with the dotted names: init.from_ is written "from"."""
    return {k.rstrip("_"): _rename(v) if isinstance(v, dict) else v for k, v in d.items()}


CHOICES = choices()  # key -> allowed values, derived from the registry (keys.py)


def _leaves(obj: Any, prefix: str = "") -> dict[str, tuple[Any, type]]:
    """Map every dotted key to (owner dataclass instance, field type)."""
    out = {}
    for f in dataclasses.fields(obj):
        val = getattr(obj, f.name)
        key = prefix + f.name.rstrip("_")  # init.from is the field from_
        if dataclasses.is_dataclass(val):
            out.update(_leaves(val, key + "."))
        else:
            out[key] = (obj, type(val))
    return out


def keys() -> list[str]:
    """All dotted keys a user may set."""
    return sorted(_leaves(Config()))


def key_records() -> list[dict[str, Any]]:
    """The registry as data (``walkformer keys --json``), one dict per key in registry
    order: key, type, default (model.name=shi-cao), family_defaults (model -> value, where
    the family has its own), choices, allowed, used_by, when, description."""
    d, leaves = Config(), _leaves(Config())
    return [{"key": k.name, "type": leaves[k.name][1].__name__, "default": get(d, k.name),
             "family_defaults": {m: v[k.name] for m, v in IMPLIED.items() if k.name in v},
             "choices": list(k.choices), "allowed": k.allowed_text, "used_by": k.used_by,
             "when": [{kk: list(vv) for kk, vv in alt.items()} for alt in k.when], "description": k.doc}
            for k in REGISTRY.values()]


def key_rows() -> list[dict[str, str]]:
    """The rows of the ``walkformer keys`` table (strings: key, type, default, allowed,
    used_by, description)."""
    d, leaves = Config(), _leaves(Config())
    return _keys.rows({k: get(d, k) for k in leaves}, {k: t.__name__ for k, (_, t) in leaves.items()}, IMPLIED)


def keys_markdown() -> str:
    """docs/keys.md, generated from the registry (tests/test_keys.py keeps the file equal)."""
    return _keys.markdown(key_rows())


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
        setattr(owner, field_name(key), _parse(key, raw, typ))
    return cfg


def field_name(key: str) -> str:
    """The dataclass attribute of a dotted key's last part (``init.from`` -> ``from_``)."""
    last = key.rsplit(".", 1)[-1]
    return last + "_" if keyword.iskeyword(last) else last


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
    # a config.json written before a key existed: the key takes its family's value
    for k, v in implied(flat.get("model.name", "shi-cao"), flat.get("task.name", "circle")).items():
        flat.setdefault(k, v)
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
        obj = getattr(obj, part + "_" if keyword.iskeyword(part) else part)
    return obj


# Defaults that depend on model.name (applied to keys the user did not give): the
# papers' settings of "Attention with Markov" / "Local to Global", and for every family
# the architecture it stands for (shi-cao: the Config defaults, eq. 2.1 of the paper).
IMPLIED = {
    "gpt": {"task.N": 1024, "init.scheme": "standard", "train.optimizer": "adamw", "train.steps": 500,
            "eval.n_test": 32, "eval.every": 10, "dtype": "float32",
            "model.attention": "split", "model.scale": "sqrt", "model.residual": True, "model.mlp": "relu",
            "model.embed": "scalar", "model.pos": "learned", "model.layout": "causal", "model.head": "unembed",
            "model.loss": "bce"},
    "canonical": {"init.scheme": "gaussian", "train.optimizer": "sgd", "train.lr": 0.01, "train.steps": 500},
}
# Which task and which init schemes go with which model family. The reference transformer
# serves both families on every next-state task (paths.py); the binary task's prediction at
# every position is the gpt family's (the shi-cao family reads one prediction slot).
MODEL_TASKS = {"shi-cao": ("circle", "qa1", "qa2", "chain"), "gpt": ("binary", "chain", "circle", "qa1", "qa2"),
               "canonical": ("binary",)}
MODEL_INITS = {"shi-cao": ("zero", "gaussian"), "gpt": ("standard", "anti-aligned", "rank-one", "zero", "gaussian"),
               "canonical": ("zero", "gaussian", "anti-aligned")}


def implied(model: str, task: str) -> dict[str, Any]:
    """The defaults of family ``model`` on ``task`` (IMPLIED, adapted to the task): gpt
    off the binary task embeds K tokens (learned, softmax-ce) at the default N and
    n_test; shi-cao on the binary task reads every position (layout causal)."""
    out = dict(IMPLIED.get(model, {}))
    if model == "gpt" and task != "binary":
        out |= {"model.embed": "learned", "model.loss": "softmax-ce"}
        for k in ("task.N", "eval.n_test"):
            out.pop(k)
    if model == "shi-cao" and task == "binary":
        out["model.layout"] = "causal"
    return out


def _set(cfg: Config, key: str, value: Any) -> None:
    owner, _ = _leaves(cfg)[key]
    setattr(owner, field_name(key), value)


def resolve(cfg: Config, explicit: set[str] | None = None) -> Config:
    """Fill in values implied by others (model.name and task.name imply :func:`implied`;
    the QA tasks fix K and N, binary fixes K = 2; task.matrix sets task.graph=matrix),
    refuse a key of ``explicit`` that the resolved config does not use
    (``keys.inapplicable``), then validate."""
    cfg = copy_config(cfg)
    explicit = set(explicit or ())
    for key, want in implied(cfg.model.name, cfg.task.name).items():
        if key not in explicit:
            _set(cfg, key, want)
    if "task.matrix" in explicit and "task.graph" not in explicit:
        cfg.task.graph = "matrix"
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
    bad = _keys.inapplicable(lambda k: get(cfg, k), explicit)
    if bad:
        raise ConfigError(bad)
    from .checks import validate  # (validation lives in checks.py, which reads this module's tables)

    validate(cfg)
    return cfg
