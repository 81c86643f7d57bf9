"""The one registry of config keys: what each key means, what it may be, and who uses it.

Every leaf of :class:`walkformer.config.Config` has one :class:`Key` here (a test checks
both ways): a one-line description, the allowed values (``choices`` for a string key, or
a check of the value alone with its human text), and *who uses it*: ``when``, a tuple of
alternatives, each a dict ``{key: values}`` that must all hold on the resolved config
(``()``: every run). The type and the default come from the dataclasses in
``config.py`` (the family defaults from ``config.IMPLIED``); the table of
``walkformer keys`` and docs/keys.md are rendered from both (:func:`rows`,
:func:`text_table`, :func:`markdown`).

A key given explicitly that does not apply to the resolved model and task is an error
(:func:`inapplicable`): ``model.d_head=6 does not apply with model.attention=merged: it
is used by model.attention=split``. A key left at its default never is.

This module imports only torch-free catalogues: ``errors``, ``graphs``, ``positions`` and
``losses`` (each graph, position scheme or loss says which keys it reads: ``using``);
``config.py`` imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from .errors import ConfigError  # noqa: F401  (walkformer.keys.ConfigError, walkformer.config.ConfigError)
from . import graphs, losses, positions
from .graphs import GRAPHS, ORDERED, using


TRANSFORMER = ("shi-cao", "gpt")  # the model families served by the (reference) transformer
TASKS = ("circle", "qa1", "qa2", "binary", "chain")
CONCAT = positions.using("model.M")  # positions concatenated to the token part with width M (the paper's)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


@dataclass(frozen=True)
class Key:
    name: str  # dotted, as on the command line
    doc: str  # one line
    choices: tuple = ()  # the values of a string key (empty: any value ``ok`` accepts)
    allowed: str = ""  # human text of what ``ok`` accepts (choices: derived)
    ok: Callable[[Any], bool] | None = None  # a check of the value alone
    when: tuple = ()  # alternatives {key: values}; () = every run
    who: str = ""  # human text of ``when`` where the derived one reads badly

    def applies(self, get: Callable[[str], Any]) -> bool:
        """Whether a config (read through ``get(dotted key)``) uses this key."""
        return not self.when or any(all(get(k) in vs for k, vs in alt.items()) for alt in self.when)

    @property
    def used_by(self) -> str:
        """``model.attention=split``; alternatives joined by ``; or ``; ``all`` for every run."""
        if self.who or not self.when:
            return self.who or "all"
        return "; or ".join(", ".join(f"{k}={'|'.join(map(str, vs))}" for k, vs in alt.items()) for alt in self.when)

    @property
    def on(self) -> tuple[str, ...]:
        """The keys whose values decide whether this key applies."""
        return tuple(dict.fromkeys(k for alt in self.when for k in alt))

    @property
    def allowed_text(self) -> str:
        return "one of " + ", ".join(self.choices) if self.choices else self.allowed


def _k(name, doc, choices=(), allowed="", ok=None, when=(), who=""):
    return Key(name, doc, tuple(choices), allowed, ok, tuple(when) if isinstance(when, (list, tuple)) else (when,), who)


def _geq(lo):
    return lambda v: v >= lo


TF = {"model.name": TRANSFORMER}  # used by the transformer families (not canonical's numpy model)
CHAIN = {"task.name": ("chain",)}

REGISTRY: dict[str, Key] = {k.name: k for k in [
    # ---- task ----------------------------------------------------------------------------------
    _k("task.name", "the data: circle (the paper's random walk), qa1|qa2 (Sec. 6 questions), binary (two-state "
       "chain, next token at every position), chain (any finite Markov source, see task.graph)", TASKS),
    _k("task.K", "number of states (vocabulary size); qa1, qa2 fix 19 and binary fixes 2; task.graph=matrix takes "
       "it from the matrix", allowed="K >= 2 (K >= 3 on a circle)", ok=_geq(2),
       when=({"task.name": ("circle", "qa1", "qa2", "binary")},
             {"task.name": ("chain",), "task.graph": using("task.K")}),
       who="all but task.graph=matrix"),
    _k("task.N", "sequence length including the predicted slot s_N (binary: input length)", allowed="N >= 1",
       ok=_geq(1)),
    _k("task.p", "probability of a clockwise step (binary: P(1 | 0); path: a step right)",
       allowed="a probability in [0, 1]", ok=lambda v: _finite(v) and 0 <= v <= 1,
       when=({"task.name": ("circle", "binary")}, {"task.name": ("chain",), "task.graph": using("task.p")})),
    _k("task.q", "P(0 | 1) of the binary chain", allowed="a probability in [0, 1]",
       ok=lambda v: _finite(v) and 0 <= v <= 1, when={"task.name": ("binary",)}),
    _k("task.graph", "the chain's transition graph, one module each in walkformer/graphs/ (docs/tasks.md); "
       "matrix: task.matrix", GRAPHS, when=CHAIN),
    _k("task.matrix", "transition matrix: inline rows '0.9,0.1;0.2,0.8' or a .npy/.csv/.json file; giving it sets "
       "task.graph=matrix", allowed="rows of a stochastic matrix, or a file path", when=CHAIN),
    _k("task.stay", "lazy-circle: probability of staying put (the rest moves clockwise w.p. task.p)",
       allowed="a probability in [0, 1]", ok=lambda v: _finite(v) and 0 <= v <= 1,
       when={**CHAIN, "task.graph": using("task.stay")}),
    _k("task.degree", "regular graph: degree of every state", allowed="degree >= 1", ok=_geq(1),
       when={**CHAIN, "task.graph": using("task.degree")}),
    _k("task.alpha", "dirichlet graph: concentration of each row's Dirichlet draw", allowed="alpha > 0",
       ok=lambda v: _finite(v) and v > 0, when={**CHAIN, "task.graph": using("task.alpha")}),
    _k("task.graph_seed", f"seed of the random graphs ({', '.join(using('task.graph_seed'))})", allowed="seed >= 0",
       ok=_geq(0), when={**CHAIN, "task.graph": using("task.graph_seed")}),
    _k("task.lag", "the next state depends on x_{N-lag} (1: the last token, the usual chain)",
       allowed="1 <= lag <= N-1", ok=_geq(1), when=CHAIN),
    _k("task.order", "order of the chain: the next state depends on the last `order` parents",
       allowed=f"order >= 1, order·lag <= N-1, K^order <= graphs.MAX_CONTEXTS; order > 1: {', '.join(ORDERED)}",
       ok=_geq(1), when=CHAIN),
    _k("task.init_law", "law of x_1: uniform, or the chain's stationary law", ("uniform", "stationary"), when=CHAIN),
    # ---- model ---------------------------------------------------------------------------------
    _k("model.name", "family of defaults: shi-cao (the paper's eq. 2.1), gpt ('Attention with Markov'), canonical "
       "(Local to Global's 3-parameter model, binary only)", ("shi-cao", "gpt", "canonical")),
    _k("model.attention", "merged: one W per head, score u_j^T W u_i (eq. 2.1); split: (W_Q u_i)·(W_K u_j)",
       ("merged", "split"), when=TF),
    _k("model.d_head", "split attention: width of W_Q, W_K, W_V per head (0: D // heads)", allowed="d_head >= 0",
       ok=_geq(0), when={**TF, "model.attention": ("split",)}),
    _k("model.scale", "attention scores times 1/sqrt(d_head) (sqrt) or not (none)", ("none", "sqrt"), when=TF),
    _k("model.residual", "h <- h + attention(h) (true) or h <- attention(h) (false)", allowed="true or false",
       when=TF),
    _k("model.bias", "bias terms in Q, K, V, O and the MLP", allowed="true or false", when=TF),
    _k("model.layers", "number of transformer blocks", allowed="layers >= 1", ok=_geq(1), when=TF),
    _k("model.heads", "attention heads per block", allowed="heads >= 1", ok=_geq(1), when=TF),
    _k("model.mlp", "none, or relu: h <- h + W_2 ReLU(W_1 LN(h)) in each block (hidden 4·D)", ("none", "relu"),
       when=TF),
    _k("model.layernorm", "pre-LayerNorm in each block and before the unembedding", allowed="true or false",
       when=TF),
    _k("model.tie", "read-out tied to the embedding (W_U = E^T, or a = e for a scalar embedding)",
       allowed="true or false",
       when={**TF, "model.head": ("unembed",), "model.embed": ("learned", "scalar")}),
    _k("model.embed", "token part of x~_i: onehot e_s (fixed, width K), learned E[s] (width d), scalar s·e "
       "(width d, K = 2)", ("onehot", "learned", "scalar"), when=TF),
    _k("model.d", "width of the learned or scalar embedding", allowed="d >= 1", ok=_geq(1),
       when={**TF, "model.embed": ("learned", "scalar")}),
    _k("model.pos", "positions, one module each in walkformer/positions/ (docs/keys.md): "
       + "; ".join(f"{k}: {', '.join(positions.of_kind(k))}" for k in positions.KINDS), positions.POSITIONS, when=TF),
    _k("model.M", "dimension of the concatenated positions", allowed="M >= 1 (M >= N for onehot, M > N for sin)",
       ok=_geq(1), when={**TF, "model.pos": CONCAT}),
    _k("model.normalize", "unit-length x~_i inside the softmax (paper Sec. 5)", allowed="true or false",
       when={**TF, "model.pos": CONCAT}),
    _k("model.layout", "slot: the paper's N slots with an empty query slot; causal: the tokens only, causal mask",
       ("slot", "causal"), when=TF),
    _k("model.head", "read-out: linear f = V X S, relu f = A ReLU(V X S) (App. F.2), unembed f = W_U LN(h)",
       ("linear", "relu", "unembed"), when=TF),
    _k("model.m", "hidden width of the relu head", allowed="m >= 1", ok=_geq(1),
       when={**TF, "model.head": ("relu",)}),
    _k("model.loss", "the loss, one module each in walkformer/losses/ (docs/keys.md): "
       + ", ".join(losses.LOSSES), losses.LOSSES, when=TF),
    # ---- init ----------------------------------------------------------------------------------
    _k("init.scheme", "initial parameters: zero, gaussian (sigma), standard (GPT-2), anti-aligned (c), rank-one",
       ("zero", "gaussian", "standard", "anti-aligned", "rank-one")),
    _k("init.sigma", "standard deviation of the gaussian init", allowed="sigma >= 0",
       ok=lambda v: _finite(v) and v >= 0, when={"init.scheme": ("gaussian",)}),
    _k("init.c", "anti-aligned init: W_in = +c, W_out = -c (canonical: (e, w) = (c, -c))",
       allowed="a finite number", ok=_finite, when={"init.scheme": ("anti-aligned",)}),
    _k("init.seed", "seed of the initial parameters (-1: the run's seed; data stay on seed)",
       allowed="-1, or 0 <= seed <= config.MAX_SEED (1.8e13)", when={"model.name": ("shi-cao",)}),
    _k("init.from", "start from the params.safetensors of this run directory ('': no)",
       allowed="'' or a run directory", when=TF),
    # ---- train ---------------------------------------------------------------------------------
    _k("train.eta", "GD step size of shi-cao", allowed="eta > 0", ok=lambda v: _finite(v) and v > 0,
       when={"model.name": ("shi-cao",)}),
    _k("train.eps", "stability constant of the loss -log(z + eps)", allowed="eps > 0",
       ok=lambda v: _finite(v) and v > 0, when={**TF, "model.loss": losses.using("train.eps")}),
    _k("train.steps", "number of optimisation steps", allowed="0 <= steps <= 1e+09", ok=lambda v: 0 <= v <= 10**9),
    _k("train.n_train", "training sequences (fixed: the set, online: drawn fresh each step)",
       allowed="n_train >= 1", ok=_geq(1),
       when={**TF, "task.name": ("circle", "qa1", "qa2", "chain"), "train.data": ("fixed", "online")}),
    _k("train.data", "fixed: one training set, full batch; online: fresh each step; population: every path, weighted",
       ("fixed", "online", "population"), when={**TF, "task.name": ("circle", "qa1", "qa2", "chain")}),
    _k("train.path", "fast: the fastest exact path for the config; autograd: the dense shi-cao model (checks); "
       "reference: the reference transformer", ("fast", "autograd", "reference"), when=TF),
    _k("train.optimizer", "gd, sgd (momentum) or adamw (one-cycle schedule); shi-cao: gd", ("gd", "sgd", "adamw")),
    _k("train.lr", "learning rate of gpt and canonical (the peak of the one-cycle schedule)", allowed="lr > 0",
       ok=lambda v: _finite(v) and v > 0, when={"model.name": ("gpt", "canonical")}),
    _k("train.momentum", "momentum of sgd", allowed="momentum in [0, 1)", ok=lambda v: _finite(v) and 0 <= v < 1,
       when={"train.optimizer": ("sgd",)}),
    _k("train.batch", "fresh sequences per step of the binary task", allowed="batch >= 1", ok=_geq(1),
       when={**TF, "task.name": ("binary",)}),
    # ---- eval ----------------------------------------------------------------------------------
    _k("eval.n_test", "held-out test sequences", allowed="n_test >= 1", ok=_geq(1), when=TF),
    _k("eval.every", "grid=every: log metrics every this many steps (and at the last step)",
       allowed="every >= 1", ok=_geq(1)),
    _k("eval.grid", "every, or log: step 0, round(10^(k/per_decade)) and the last step (shi-cao)",
       ("every", "log")),
    _k("eval.per_decade", "grid=log: logged points per decade of steps",
       allowed="per_decade >= 1 (logged points per decade of steps)", ok=_geq(1), when={"eval.grid": ("log",)}),
    _k("eval.f_distance", "also log f_opt_distance and f_sqrt_distance (~17% of a Fig. 4 step)",
       allowed="true or false", when={"model.name": ("shi-cao",)}),
    # ---- run -----------------------------------------------------------------------------------
    _k("seed", "seed of the run's data, test set and (unless init.seed) initialisation",
       allowed="0 <= seed <= config.MAX_SEED (1.8e13)"),
    _k("dtype", "floating-point type of the model", ("float32", "float64"), when=TF),
]}


def choices() -> dict[str, tuple]:
    """Key -> its allowed values, for every key with a fixed set of values."""
    return {k.name: k.choices for k in REGISTRY.values() if k.choices}


def inapplicable(get: Callable[[str], Any], explicit) -> str | None:
    """The message for the first key of ``explicit`` that the config (read through
    ``get``) does not use, else None."""
    for name in sorted(explicit):
        key = REGISTRY.get(name)
        if key is not None and not key.applies(get):
            on = [k for k, vs in key.when[0].items() if get(k) not in vs] if len(key.when) == 1 else key.on
            with_ = ", ".join(f"{k}={get(k)}" for k in on)
            return f"{name}={get(name)!r} does not apply with {with_}: it is used by {key.used_by}"
    return None


def check_values(get: Callable[[str], Any]) -> str | None:
    """The message for the first key whose value alone is not allowed (choices, ``ok``)."""
    import difflib

    for key in REGISTRY.values():
        v = get(key.name)
        if key.choices and v not in key.choices:
            near = difflib.get_close_matches(str(v), key.choices, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            return f"{key.name}={v!r} is not allowed: {key.allowed_text}{hint}"
        if key.ok is not None and not key.ok(v):
            return f"{key.name}={v!r} is not allowed: {key.allowed_text}"
    return None


# ---- the table of ``walkformer keys`` and docs/keys.md --------------------------------------------
def rows(defaults: dict[str, Any], types: dict[str, str], implied: dict[str, dict]) -> list[dict]:
    """One dict per key (registry order): key, type, default (with the families' own
    defaults: ``merged (gpt: split)``), allowed, used_by, description."""
    out = []
    for k in REGISTRY.values():
        d = _show(defaults[k.name])
        fam = [f"{m}: {_show(v[k.name])}" for m, v in implied.items() if k.name in v]
        out.append({"key": k.name, "type": types[k.name], "default": d + (f" ({'; '.join(fam)})" if fam else ""),
                    "allowed": k.allowed_text, "used_by": k.used_by, "description": k.doc})
    return out


def _show(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return repr(v) if v == "" else str(v)


COLUMNS = ("key", "default", "allowed", "used_by", "description")


def text_table(rs: list[dict]) -> str:
    """Grouped by section (task, model, init, train, eval, run): a line of key, default,
    allowed, used by; the description indented below it."""
    cols = COLUMNS[:-1]
    w = {c: max(len(c), *(len(r[c]) for r in rs)) for c in cols[:-1]}
    line = lambda r: "  ".join(r[c].ljust(w[c]) if c in w else r[c] for c in cols).rstrip()  # noqa: E731
    out = [line({c: c.replace("_", " ") for c in cols}) + "\n    description"]
    for sec, group in _sections(rs):
        out += ["", f"[{sec}]"]
        for r in group:
            out += [line(r), f"    {r['description']}"]
    return "\n".join(out) + "\n"


def markdown(rs: list[dict]) -> str:
    """docs/keys.md: one table per section (a test keeps the file equal to this)."""
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    out = ["# Config keys", "",
           "Generated by `walkformer.config.keys_markdown()` from the registry in `src/walkformer/keys.py`",
           "(`walkformer keys` prints the same table, `walkformer keys --json` the registry); do not edit by hand.",
           "", "A key given explicitly that its model or task does not use is an error (`used by`); a key left at its",
           "default never is. `default` shows the value of `model.name=shi-cao` and, in parentheses, the other",
           "families' own defaults. `model.name=gpt` on a task other than binary takes `model.embed=learned`,",
           "`model.loss=softmax-ce`, and the default `task.N`, `eval.n_test`; `shi-cao` on the binary task takes",
           "`model.layout=causal`. Giving `task.matrix` without `task.graph` sets `task.graph=matrix`.", ""]
    for sec, group in _sections(rs):
        out += [f"## {sec}", "", "| key | default | allowed | used by | description |", "|---|---|---|---|---|"]
        out += [f"| `{r['key']}` | {esc(r['default'])} | {esc(r['allowed'])} | {esc(r['used_by'])} | "
                f"{esc(r['description'])} |" for r in group]
        out.append("")
    out += ["## model.pos values", "", "One module each in `src/walkformer/positions/` (its docstring's first line here).",
            "", "| model.pos | kind | reads | description |", "|---|---|---|---|"]
    out += [f"| `{p}` | {positions.kind(p)} | {', '.join(f'`{k}`' for k in positions.SCHEMES[p].USES) or '—'} | "
            f"{esc(positions.describe(p))} |" for p in positions.POSITIONS]
    out += ["", "## model.loss values", "", "One module each in `src/walkformer/losses/` (its docstring's first line here).",
            "", "| model.loss | reads | description |", "|---|---|---|"]
    out += [f"| `{n}` | {', '.join(f'`{k}`' for k in losses.loss(n).USES) or '—'} | {esc(losses.describe(n))} |"
            for n in losses.LOSSES]
    out += ["", "## task.graph values", "", "One module each in `src/walkformer/graphs/` (its docstring's first line here).", "",
            "| task.graph | reads | description |", "|---|---|---|"]
    out += [f"| `{g}` | {', '.join(f'`{k}`' for k in graphs.uses(g))} | {esc(graphs.describe(g))} |" for g in GRAPHS]
    out.append("")
    return "\n".join(out)


def _sections(rs: list[dict]):
    secs: dict[str, list] = {}
    for r in rs:
        secs.setdefault(r["key"].split(".")[0] if "." in r["key"] else "run", []).append(r)
    return secs.items()
