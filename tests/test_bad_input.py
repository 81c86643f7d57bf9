"""Bad input: one line on stderr naming the key, the value and what is allowed, exit
status 2, nothing written, before any work (docs/reliability.md); divergence in
float64 (parameters beyond training.PARAM_BOUND) fails the run; a failed run always writes
its directory, figure included."""

import json
import math

import pytest
import torch

from walkformer import limits

from walkformer.runs import multirun, multirun_gpt
from walkformer.runs import sweep as sweep_mod
from walkformer import loop as loop_mod
from walkformer.cli import main
from walkformer.config import MAX_SEED, Config, ConfigError, apply_overrides, resolve, stream_seed
from walkformer.runs.sweep import expand, parse
from walkformer.loop import run

SMALL = ["task.K=5", "task.N=12", "model.M=30", "train.steps=3", "train.n_train=40", "eval.n_test=40"]
GPT = ["model.name=gpt", "task.name=binary", "task.N=16", "train.steps=4", "eval.every=2", "eval.n_test=8",
       "train.batch=4"]


def cfg(args):
    over = dict(a.split("=", 1) for a in args)
    return resolve(apply_overrides(Config(), over), set(over))


def refused(capsys, tmp_path, *args, needles=()):
    """Run the CLI in an empty tmp_path: exit 2, one line naming every needle, nothing written."""
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("walkformer: error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)
    return err


@pytest.fixture
def empty(tmp_path, monkeypatch):
    """An empty working directory; the test checks that it stays as it was."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def listing(d):
    return sorted(p.name for p in d.iterdir())


# ---- 1. seeds within the range the generators take -------------------------------------------
def test_max_seed_is_the_exact_bound_of_the_generators():
    torch.Generator().manual_seed(stream_seed(MAX_SEED, "init"))  # the largest stream of the largest seed fits
    with pytest.raises((RuntimeError, ValueError), match="Overflow"):
        torch.Generator().manual_seed(stream_seed(MAX_SEED + 1, "data"))  # the next seed's smallest does not
    assert run(cfg(SMALL + [f"seed={MAX_SEED}", "init.scheme=gaussian"])).summary["status"] == "ok"


@pytest.mark.parametrize("arg", [f"seed={MAX_SEED + 1}", f"init.seed={MAX_SEED + 1}", "seed=99999999999999999999"])
def test_seed_beyond_the_generators(capsys, empty, arg):
    refused(capsys, empty, "train", "--out", "r", *SMALL, arg, needles=(arg.split("=")[0], str(MAX_SEED)))
    assert listing(empty) == []


@pytest.mark.parametrize("seeds", ["[1180591620717411303424]", f"[{MAX_SEED + 1}]", "[-1]", "[1, 1]", "0"])
def test_sweep_seeds_beyond_the_generators(capsys, empty, seeds):
    (empty / "s.toml").write_text(f'seeds = {seeds}\n[grid]\n"task.p" = [0.5]\n')
    refused(capsys, empty, "sweep", "s.toml", "--out", "o", needles=("seeds=",))
    assert listing(empty) == ["s.toml"]


# ---- 2. --out that names no directory --------------------------------------------------------
@pytest.mark.parametrize("out", ["", " ", ".", "..", "afile"])
def test_train_out_names_no_run_directory(capsys, empty, out):
    (empty / "afile").write_text("keep")
    refused(capsys, empty, "train", "--out", out, *SMALL, needles=(f"--out={out!r}",))
    assert listing(empty) == ["afile"] and (empty / "afile").read_text() == "keep"


@pytest.mark.parametrize("cmd", [["sweep", "s.toml"], ["reproduce", "fig4"]])
@pytest.mark.parametrize("out", ["", "afile", "afile/sub"])
def test_sweep_and_reproduce_out_names_no_directory(capsys, empty, cmd, out):
    (empty / "afile").write_text("keep")
    (empty / "s.toml").write_text('[grid]\n"task.p" = [0.5]\n')
    refused(capsys, empty, *cmd, "--out", out, needles=(f"--out={out!r}",))
    assert listing(empty) == ["afile", "s.toml"]


def test_reproduce_seeds_above_the_run_ceiling(capsys, empty):
    refused(capsys, empty, "reproduce", "fig4", "--out", "o", "--seeds", 10**9, needles=("--seeds=1000000000",
                                                                                        "at most 100000"))
    assert listing(empty) == []


# ---- 3. specs that are not UTF-8 or not TOML -------------------------------------------------
@pytest.mark.parametrize("data,needle", [(b'\xff\xfe[grid]\n"task.p" = [0.5]\n', "not UTF-8"),
                                         ("[grid]\n\"task.p\" = [0.5\n".encode(), "not valid TOML"),
                                         ('preset = [1]\n[grid]\n"task.p" = [0.5]\n'.encode(), "preset"),
                                         ('[base]\n"task.p" = 0.3\n[base.task]\np = 0.4\n[grid]\n"task.K" = [5]\n'
                                          .encode(), "task.p is given twice (0.3 and 0.4)")])
def test_spec_undecodable_or_invalid(capsys, empty, data, needle):
    (empty / "s.toml").write_bytes(data)
    refused(capsys, empty, "sweep", "s.toml", "--out", "o", needles=(needle,))
    assert listing(empty) == ["s.toml"]


# ---- 4. train.data=population too large ------------------------------------------------------
def test_population_too_large(capsys, empty):
    refused(capsys, empty, "train", "--out", "r", "train.data=population",
            needles=("train.data='population'", "1048576", "task.N=97"))
    assert listing(empty) == []


@pytest.mark.parametrize("K,N,p", [(5, 6, 0.3), (4, 7, 1.0), (3, 2, 0.5)])
def test_population_is_counted_exactly_without_enumerating(K, N, p):
    from walkformer.tasks import circle_walk

    rows, _ = limits.population_rows("circle", K, N, p)
    assert rows == len(circle_walk(K, N, p).population()[1]) == K * (1 if p in (0.0, 1.0) else 2 ** (N - 1))


# ---- 5. repeated keys and repeated grid values -----------------------------------------------
def test_repeated_key_names_both_values(capsys, empty):
    refused(capsys, empty, "train", "--out", "r", *SMALL, "task.p=0.3", "task.p=0.9",
            needles=("task.p is given twice", "'0.3'", "'0.9'"))
    assert listing(empty) == []


def test_repeated_grid_values_are_merged_with_one_note(capsys, empty):
    (empty / "s.toml").write_text('seeds = 1\n[base]\n"task.K" = 5\n"task.N" = 12\n"model.M" = 30\n'
                                  '"train.steps" = 2\n"train.n_train" = 40\n"eval.n_test" = 40\n'
                                  '[grid]\n"task.p" = [0.5, 0.5]\n"train.eta" = [1, 1.0, 2]\n')
    assert main(["sweep", "s.toml", "--out", "o", "--workers", "1", "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("walkformer: note: ")
    assert "task.p: 2 values, 1 distinct" in err[0] and "train.eta: 3 values, 2 distinct" in err[0]
    import pandas as pd

    df = pd.read_parquet(empty / "o" / "results.parquet")
    assert sorted(df["train.eta"]) == [1.0, 2.0] and (df["task.p"] == 0.5).all()


# ---- 6. the grid's size, before expanding it -------------------------------------------------
BIG_GRID = "".join(f'"{k}" = [{", ".join(str(v) for v in vals)}]\n' for k, vals in [
    ("task.p", [i / 10 for i in range(10)]), ("init.sigma", [i / 100 for i in range(10)]),
    ("train.eta", range(1, 11)), ("train.eps", range(1, 11)), ("eval.n_test", range(1, 11)),
    ("train.n_train", range(1, 11))])


def test_grid_above_the_ceiling_is_refused_from_its_shape(capsys, empty, monkeypatch):
    (empty / "s.toml").write_text("[grid]\n" + BIG_GRID)
    calls = []
    monkeypatch.setattr(sweep_mod, "_point", lambda *a: calls.append(a))
    refused(capsys, empty, "sweep", "s.toml", "--out", "o", needles=("1000000 runs", "at most 100000", "--yes"))
    assert calls == [] and listing(empty) == ["s.toml"]  # not one grid point was resolved


def test_yes_lifts_the_ceiling(empty, monkeypatch):
    (empty / "s.toml").write_text("[grid]\n" + BIG_GRID)
    seen = {}
    monkeypatch.setattr(sweep_mod, "sweep", lambda spec, out, **kw: seen.setdefault("spec", spec) and 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["sweep", "s.toml", "--out", "o", "--yes"])
    assert seen["spec"].max_runs is None and seen["spec"].n_runs == 10**6
    spec = parse('seeds = 3\n[grid]\n"task.p" = [0.1, 0.2]\n')
    spec.max_runs = 5
    with pytest.raises(ConfigError, match="6 runs is not allowed"):
        expand(spec)
    spec.max_runs = None
    assert len(expand(spec)) == 6


def test_a_bad_value_fails_before_the_full_product(monkeypatch):
    """Each value is checked alone first (Σ len points, not Π len): the product, first key
    slowest, would reach eval.n_test=0 only at its 145th point."""
    spec = parse('[base]\n"init.scheme" = "gaussian"\n[grid]\n"eval.n_test" = [5, 6, 7, 0]\n"task.p" = [0.1, 0.2, 0.3, 0.4]\n"train.eta" = [1, 2, 3, 4]\n'
                 '"init.sigma" = [0.0, 0.1, 0.2]\n')
    calls, point = [], sweep_mod._point
    monkeypatch.setattr(sweep_mod, "_point", lambda s, p: calls.append(p) or point(s, p))
    with pytest.raises(ConfigError, match="eval.n_test=0 is not allowed"):
        expand(spec)
    assert len(calls) <= 3  # the product is 192 points


# ---- 7. memory and time -----------------------------------------------------------------------
@pytest.mark.parametrize("args,needle", [(["task.K=100000"], "task.K=100000"),
                                         (["train.n_train=1000000000"], "train.n_train=1000000000"),
                                         (["task.N=100000", "model.M=100001"], "task.N=100000"),
                                         (GPT[:2] + ["task.N=100000"], "task.N=100000"),
                                         (["model.name=canonical", "task.name=binary", "train.steps=900000000"],
                                          "train.steps=900000000")])
def test_run_larger_than_the_machine(capsys, empty, monkeypatch, args, needle):
    monkeypatch.setattr(limits, "machine_memory", lambda: 16 * 2**30)
    err = refused(capsys, empty, "train", "--out", "r", *args, needles=(needle, "16 GiB of memory", "needs about"))
    need = float(err.split("needs about ")[1].split()[0])
    assert need > 16 or "TiB" in err
    assert listing(empty) == []


def test_steps_ceiling(capsys, empty):
    refused(capsys, empty, "train", "--out", "r", f"train.steps={10**12}", needles=("train.steps=", "1e+09"))


def test_every_preset_fits_in_2_gib():
    """The bound never refuses a preset on a small machine (the largest today: ~1 GiB)."""
    from walkformer.experiments import REGISTRY

    for e in REGISTRY.values():
        for label in e.variants:
            c = e.config(label, 0)
            rows = (limits.population_rows(c.task.name, c.task.K, c.task.N, c.task.p)[0]
                    if c.train.data == "population" and c.model.name == "shi-cao" else None)
            assert sum(b for _, b, _ in limits.memory_terms(c, rows)) < 2 * 2**30, (e.name, label)


def test_memory_bound_covers_the_tensors_of_a_run():
    """The sequences term alone is at least the tokens the run holds."""
    c = cfg(SMALL + ["train.n_train=500"])
    r = run(c)
    terms = dict((w, b) for w, b, _ in limits.memory_terms(c))
    assert terms["sequences"] >= (500 + 40) * 12 * 8 and terms["key-query W"] >= (5 + 30) ** 2 * 8
    assert r.summary["status"] == "ok" and limits.machine_memory() > 2**28


# ---- 8. divergence in float64 ------------------------------------------------------------------
BLOW = SMALL + ["init.scheme=gaussian", "init.sigma=0.01", "train.eta=1e300"]


@pytest.mark.parametrize("head", ["linear", "relu"])
def test_float64_blow_up_without_nan_is_diverged(head):
    c = cfg(BLOW + [f"model.head={head}", "dtype=float64"])
    alone = run(c)
    s = alone.summary
    assert s["status"] == "failed" and s["failure"] == "diverged" and s["steps"] == 1
    assert "lower train.eta" in s["error"] and "step 1" in s["error"]
    batch = multirun.train_group([c, cfg(SMALL + ["init.scheme=gaussian", "init.sigma=0.01", f"model.head={head}",
                                                  "seed=1"])])
    for k in ("status", "failure", "error", "steps"):
        assert batch[0].summary[k] == s[k], k
    assert batch[1].summary["status"] == "ok"


def test_the_bound_is_what_stops_the_linear_head(monkeypatch):
    """Without the bound the run of the issue ends 'ok' with a train loss of about −689."""
    c = cfg(BLOW + ["dtype=float64"])
    s = run(c).summary
    assert "max |θ|" in s["error"] and s["train_loss"] < -600
    monkeypatch.setattr(loop_mod, "PARAM_BOUND", math.inf)
    assert run(c).summary["status"] == "ok"


def test_gpt_bound_on_both_paths(monkeypatch):
    """The bound is wired into the gpt trainer, alone and batched (1.0: any trained gpt exceeds it)."""
    monkeypatch.setattr(loop_mod, "PARAM_BOUND", 1.0)
    monkeypatch.setattr(multirun_gpt, "PARAM_BOUND", 1.0)
    c = cfg(GPT + ["init.scheme=anti-aligned", "init.c=2"])
    alone = run(c).summary
    assert alone["status"] == "failed" and "max |θ|" in alone["error"] and alone["steps"] == 0
    both = multirun_gpt.train_gpt_group([c, cfg(GPT + ["init.scheme=anti-aligned", "init.c=2", "seed=1"])])
    assert [r.summary["error"] for r in both][0] == alone["error"]


# ---- 9. a failed run writes its directory, figure included -------------------------------------
@pytest.mark.parametrize("args", [BLOW, GPT + ["train.lr=1e100"],
                                  ["model.name=canonical", "task.name=binary", "train.lr=1e300", "train.steps=5",
                                   "task.p=0.2", "task.q=0.3"]])
def test_failed_run_writes_its_directory(capsys, tmp_path, args):
    out = tmp_path / "r"
    assert main(["train", "--out", str(out), "--quiet", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run failed" in err and "Traceback" not in err
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and s["failure"] == "diverged"
    assert (out / "run.png").stat().st_size > 10_000 and (out / "metrics.jsonl").exists()
