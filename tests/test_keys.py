"""The registry of config keys (keys.py): every key described, who uses it, its family
defaults; an explicit key that the resolved model/task does not use is a one-line error;
the new keys' bad values; ``walkformer keys``; docs/keys.md generated from the registry."""

import dataclasses
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from walkformer import cli, keys
from walkformer.config import (CHOICES, IMPLIED, Config, ConfigError, _leaves, apply_overrides, from_dict, get,
                               key_records, keys_markdown, resolve)
from walkformer.keys import REGISTRY
from walkformer.runs.rundir import command_for

ROOT = Path(__file__).resolve().parents[1]
GPT = {"model.name": "gpt", "task.name": "binary"}
CHAIN = {"task.name": "chain"}


def cfg(over: dict) -> Config:
    return resolve(apply_overrides(Config(), over), set(over))


def error(over: dict) -> str:
    with pytest.raises(ConfigError) as e:
        cfg(over)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# ---- the registry and the dataclasses ----------------------------------------------------------
def test_every_leaf_is_in_the_registry_and_back():
    leaves = set(_leaves(Config()))
    assert leaves == set(REGISTRY), leaves ^ set(REGISTRY)
    for k in REGISTRY.values():
        assert k.doc.strip() and "\n" not in k.doc and k.allowed_text.strip() and k.used_by, k.name


def test_choices_and_conditions_name_real_keys_and_values():
    """Every default (and family default) is allowed; each ``when`` reads keys with fixed
    choices and names only values those keys can take."""
    assert CHOICES == {k: v.choices for k, v in REGISTRY.items() if v.choices}
    d = Config()
    for k in REGISTRY.values():
        for v in [get(d, k.name)] + [fam[k.name] for fam in IMPLIED.values() if k.name in fam]:
            assert (v in k.choices) if k.choices else (k.ok is None or k.ok(v)), (k.name, v)
        for alt in k.when:
            for on, vals in alt.items():
                assert on != k.name and REGISTRY[on].choices and set(vals) <= set(REGISTRY[on].choices), (k.name, on)


# ---- defaults never error; the families' own defaults --------------------------------------------
@pytest.mark.parametrize("over", [{}, GPT, {"model.name": "canonical", "task.name": "binary"}, CHAIN,
                                  {"model.name": "gpt", **CHAIN}, {"task.name": "qa1"},
                                  {**CHAIN, "task.graph": "dirichlet", "task.order": 2, "task.K": 3}])
def test_defaults_never_error(over):
    c = cfg(over)
    assert c.model.name == over.get("model.name", "shi-cao")


def test_family_defaults():
    s = cfg({}).model
    assert (s.attention, s.scale, s.residual, s.bias, s.mlp, s.embed, s.pos, s.layout, s.head, s.loss) == (
        "merged", "none", False, False, "none", "onehot", "sin", "slot", "linear", "log-eps")
    g = cfg(GPT)
    assert (g.model.attention, g.model.scale, g.model.residual, g.model.mlp, g.model.embed, g.model.pos,
            g.model.layout, g.model.head, g.model.loss, g.model.bias) == (
        "split", "sqrt", True, "relu", "scalar", "learned", "causal", "unembed", "bce", False)
    assert (g.task.N, g.init.scheme, g.train.optimizer, g.dtype) == (1024, "standard", "adamw", "float32")
    gc = cfg({"model.name": "gpt", **CHAIN})  # gpt on K states: a learned embedding and softmax cross-entropy
    assert (gc.model.embed, gc.model.loss, gc.task.N, gc.eval.n_test) == ("learned", "softmax-ce", 97, 1000)
    assert cfg(GPT | {"model.attention": "merged"}).model.attention == "merged"  # explicit beats implied


def test_matrix_sets_the_graph_unless_given():
    assert cfg(CHAIN | {"task.matrix": "0.9,0.1;0.2,0.8"}).task.graph == "matrix"
    assert "task.graph=circle" in error(CHAIN | {"task.matrix": "0.9,0.1;0.2,0.8", "task.graph": "circle"})


def test_an_old_config_json_gets_its_familys_new_keys():
    d = Config().to_dict()
    d["model"] |= {"name": "gpt"}
    d["task"] |= {"name": "binary"}
    for k in ("attention", "scale", "residual", "mlp", "embed", "pos", "layout", "head", "loss"):
        del d["model"][k]
    old = from_dict(d)
    assert (old.model.attention, old.model.embed, old.model.loss, old.model.pos) == ("split", "scalar", "bce",
                                                                                      "learned")
    assert from_dict(cfg(GPT | {"model.pos": "none"}).to_dict()).model.pos == "none"  # a present key is kept
    assert "from" in d["init"] and get(from_dict(d), "init.from") == ""


# ---- strictness: an explicit key the config does not use -----------------------------------------
INAPPLICABLE = [
    ({"model.d_head": 6}, ("model.d_head=6", "model.attention=merged", "model.attention=split")),
    ({"model.d": 16}, ("model.d=16", "model.embed=onehot", "learned|scalar")),
    ({"task.q": 0.3}, ("task.q=0.3", "task.name=circle", "task.name=binary")),
    (GPT | {"model.M": 64}, ("model.M=64", "model.pos=learned", "sin|onehot")),
    ({"model.m": 5}, ("model.m=5", "model.head=linear", "model.head=relu")),
    ({"init.sigma": 0.1}, ("init.sigma=0.1", "init.scheme=zero", "init.scheme=gaussian")),
    (GPT | {"init.c": 2.0}, ("init.c=2.0", "init.scheme=standard", "anti-aligned")),
    ({"train.momentum": 0.5}, ("train.momentum=0.5", "train.optimizer=gd", "sgd")),
    ({"train.lr": 0.1}, ("train.lr=0.1", "model.name=shi-cao", "gpt|canonical")),
    (GPT | {"train.eta": 0.1}, ("train.eta=0.1", "model.name=gpt", "model.name=shi-cao")),
    ({"train.batch": 4}, ("train.batch=4", "task.name=circle", "task.name=binary")),
    ({"train.data": "population", "train.n_train": 10, "task.N": 5, "model.M": 10},
     ("train.n_train=10", "train.data=population")),
    ({"eval.per_decade": 5}, ("eval.per_decade=5", "eval.grid=every")),
    ({"model.tie": False}, ("model.tie=False", "model.head=linear", "model.head=unembed")),
    ({"task.graph": "regular"}, ("task.graph='regular'", "task.name=circle", "task.name=chain")),
    ({"task.lag": 2}, ("task.lag=2", "task.name=circle")),
    (CHAIN | {"task.stay": 0.2}, ("task.stay=0.2", "task.graph=circle", "lazy-circle")),
    (CHAIN | {"task.matrix": "0.5,0.5;0.5,0.5", "task.K": 2}, ("task.K=2", "task.graph=matrix")),
    ({"task.name": "qa1", "task.p": 0.3}, ("task.p=0.3", "task.name=qa1")),
    ({"model.pos": "none", "model.normalize": True}, ("model.normalize=True", "model.pos=none")),
    ({"model.name": "canonical", "task.name": "binary", "model.attention": "split"},
     ("model.attention='split'", "model.name=canonical", "shi-cao|gpt")),
    ({"model.name": "canonical", "task.name": "binary", "init.from": "x"}, ("init.from='x'",)),
    (GPT | {"eval.f_distance": False}, ("eval.f_distance=False", "model.name=gpt")),
]


@pytest.mark.parametrize("over,needles", INAPPLICABLE, ids=lambda x: ",".join(x) if isinstance(x, dict) else None)
def test_inapplicable_explicit_key_is_one_line(over, needles):
    msg = error(over)
    assert "does not apply" in msg and "it is used by" in msg, msg
    for n in needles:
        assert n in msg, (n, msg)


def test_the_same_keys_at_their_defaults_are_silent():
    """Each key of INAPPLICABLE, not given explicitly (only in the config), is no error."""
    for over, needles in INAPPLICABLE:
        key = needles[0].split("=")[0]
        try:
            resolve(apply_overrides(Config(), over), set(over) - {key})
        except ConfigError as e:
            assert "does not apply" not in str(e), (over, str(e))


def test_layers_and_heads_are_keys_of_the_shi_cao_model():
    c = cfg({"model.layers": 2, "model.heads": 2})
    assert (c.model.layers, c.model.heads) == (2, 2)


# ---- bad values of the new keys ------------------------------------------------------------------
SPLIT = {"model.attention": "split"}
BAD = [
    (CHAIN | {"task.lag": 0}, "task.lag=0", "lag"),
    (CHAIN | {"task.N": 5, "task.lag": 5}, "task.lag=5", "N-1 = 4 (the parent x_{N-lag} must be one of"),
    (CHAIN | {"task.order": 0}, "task.order=0", "order >= 1"),
    (CHAIN | {"task.graph": "dirichlet", "task.K": 10, "task.order": 4}, "task.order=4", "K^order"),
    (CHAIN | {"task.order": 2}, "task.order=2", "dirichlet or matrix"),
    (CHAIN | {"task.graph": "dirichlet", "task.N": 5, "task.order": 2, "task.lag": 3}, "task.lag=3", "order·lag"),
    (CHAIN | {"task.matrix": "0.9,0.2;0.1,0.8"}, "task.matrix=", "row 0 sums to 1.1"),
    (CHAIN | {"task.graph": "lazy-circle", "task.stay": 1.5}, "task.stay=1.5", "[0, 1]"),
    (CHAIN | {"task.graph": "regular", "task.degree": 0}, "task.degree=0", "degree >= 1"),
    (CHAIN | {"task.graph": "dirichlet", "task.alpha": 0.0}, "task.alpha=0.0", "alpha > 0"),
    (CHAIN | {"task.graph": "dirichlet", "task.graph_seed": -1}, "task.graph_seed=-1", "seed >= 0"),
    (CHAIN | {"task.graph": "matrix"}, "task.graph='matrix'", "task.matrix set"),
    (CHAIN | {"task.graph": "bogus"}, "task.graph='bogus'", "one of circle"),
    (CHAIN | {"task.init_law": "stationery"}, "task.init_law='stationery'", "did you mean stationary"),
    (SPLIT | {"model.d_head": -1}, "model.d_head=-1", "d_head >= 0"),
    ({"model.heads": 0}, "model.heads=0", "heads >= 1"), ({"model.layers": 0}, "model.layers=0", "layers >= 1"),
    (SPLIT | {"model.heads": 4}, "model.heads=4", "D = 1006"),
    ({"model.pos": "rope"}, "model.pos='rope'", "model.attention=split"),
    (SPLIT | {"model.pos": "rope", "model.embed": "learned", "model.d": 6, "model.heads": 2}, "model.heads=2",
     "even head width"),
    ({"model.loss": "bce"}, "model.loss='bce'", "K = 6"),
    (GPT | {"model.head": "linear"}, "model.loss='bce'", "model.head=unembed"),
    ({"model.embed": "scalar"}, "model.embed='scalar'", "K = 2"),
    (GPT | {"model.layout": "slot"}, "model.layout='slot'", "causal with task.name=binary"),
    (GPT | {"init.scheme": "anti-aligned", "model.mlp": "none"}, "init.scheme='anti-aligned'", "model.mlp=relu"),
    (GPT | {"init.scheme": "rank-one", "model.pos": "none"}, "init.scheme='rank-one'", "model.pos=learned"),
    (GPT | {"train.path": "autograd"}, "train.path='autograd'", "reference"),
    ({"model.attention": "both"}, "model.attention='both'", "one of merged, split"),
    ({"train.path": "slow"}, "train.path='slow'", "reference"),
    ({"init.from": "/nonexistent/run"}, "init.from='/nonexistent/run'", "does not exist"),
]


@pytest.mark.parametrize("over,needle,allowed", BAD, ids=lambda x: x if isinstance(x, str) else None)
def test_bad_value_of_a_new_key(over, needle, allowed):
    msg = error(over)
    assert needle in msg and allowed in msg, msg


def test_init_from_needs_a_run_directory(tmp_path):
    assert "it does not exist" in error({"init.from": str(tmp_path / "nope")})
    (tmp_path / "config.json").write_text("{}")
    assert "no params.safetensors" in error({"init.from": str(tmp_path)})
    (tmp_path / "params.safetensors").write_bytes(b"")
    assert cfg({"init.from": str(tmp_path)}).init.from_ == str(tmp_path)


# ---- the presets, their commands -----------------------------------------------------------------
def test_every_preset_resolves_and_its_command_resolves_to_it():
    """Each preset's config resolves (no key it cannot use), and the `walkformer train`
    command recorded in its config.json (rundir.command_for) resolves to the same config."""
    from walkformer.experiments import REGISTRY as PRESETS

    seen = set()
    for e in PRESETS.values():
        for label in e.variants:
            c = e.config(label, 0)
            args = shlex.split(command_for(c, "r"))[4:]  # a value may be quoted (task.matrix rows)
            if tuple(args) in seen:
                continue
            seen.add(tuple(args))
            over = dict(a.split("=", 1) for a in args)
            assert resolve(apply_overrides(Config(), over), set(over)) == c, (e.name, label)


# ---- walkformer keys, the help lines, docs/keys.md -----------------------------------------------
def test_keys_command_lists_every_key(capsys):
    assert cli.main(["keys"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0] for ln in out.splitlines() if ln and not ln.startswith((" ", "["))}
    assert set(REGISTRY) <= lines
    for sec in ("[task]", "[model]", "[init]", "[train]", "[eval]", "[run]"):
        assert sec in out
    assert cli.main(["keys", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in recs] == list(REGISTRY) and all(r["description"] for r in recs)
    att = next(r for r in recs if r["key"] == "model.attention")
    assert att["default"] == "merged" and att["family_defaults"] == {"gpt": "split"} and att["choices"] == [
        "merged", "split"]


def test_every_cli_option_has_a_help_line():
    import argparse

    p = cli.parser()
    subs = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    for name, sp in subs.choices.items():
        assert sp.description or any(c.dest == name and c.help for c in subs._choices_actions), name
        for a in sp._actions:
            if not isinstance(a, argparse._HelpAction):
                assert a.help and a.help.strip(), (name, a.dest)


def test_docs_keys_md_is_generated_from_the_registry():
    text = (ROOT / "docs" / "keys.md").read_text()
    assert text == keys_markdown(), "docs/keys.md is stale: write walkformer.config.keys_markdown() to it"
    for k in REGISTRY:
        assert f"| `{k}` |" in text


def test_json_records_are_plain_data():
    recs = key_records()
    assert json.loads(json.dumps(recs)) == recs
    assert {f.name for f in dataclasses.fields(Config().init)} >= {"from_"}


# ---- through the CLI: exit 2, one line, nothing written ------------------------------------------
@pytest.mark.parametrize("args,needle", [(["task.name=chain", "task.N=4", "task.lag=4"], "task.lag=4"),
                                         (["model.pos=rope"], "model.pos='rope'"),
                                         (["model.d=16"], "model.d=16 does not apply")])
def test_cli_refuses_in_one_line(tmp_path, args, needle):
    out = tmp_path / "r"
    p = subprocess.run([sys.executable, "-m", "walkformer.cli", "train", "--out", str(out), *args],
                       capture_output=True, text=True, cwd=tmp_path)
    err = p.stderr.strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1 and needle in err, (p.returncode, err)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert keys.ConfigError is ConfigError
