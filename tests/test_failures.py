"""Failed runs: why they failed (summary.json `failure`), the same on every path, kept out
of aggregates and counted; phase-p-sigma's threshold σ_c."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from walkformer import failures

from walkformer.runs import multirun
from walkformer.cli import main
from walkformer.config import Config, apply_overrides, resolve
from walkformer.experiments.common import PAPER
from walkformer.experiments.phases import FIG4, PS, SIGMAS, _p_sigma, same_state, sigma_c
from walkformer.runs.sweep import aggregate, counts_line, parse, sweep
from walkformer.loop import run

SMALL = {"task.K": 5, "task.N": 12, "model.M": 30, "train.steps": 12, "train.n_train": 60, "eval.n_test": 60,
         "eval.every": 4, "init.scheme": "gaussian"}
# float32 and the relu head: a huge step overflows after step 0 (the default head's loss
# stays finite for any η: V only grows, and the loss is −log of it)
BLOWUP = SMALL | {"dtype": "float32", "model.head": "relu", "task.p": 0.7}


def cfg(over):
    return resolve(apply_overrides(Config(), over), set(over))


def test_sigma_0_1_is_undefined_at_init_whatever_eta():
    """Fig. 4's setting at σ = 0.1, p = 0.5: e_yᵀf + ε ≤ 0 at θ^(0); η plays no part."""
    out = [run(cfg(FIG4 | {"task.p": 0.5, "init.sigma": 0.1, "train.eta": eta})) for eta in (1.0, 0.01)]
    for r in out:
        s = r.summary
        assert s["status"] == "failed" and s["failure"] == failures.UNDEFINED_AT_INIT and s["steps"] == 0
        assert r.failure == s["failure"]
        assert "init.sigma" in s["error"] and "train.eps" in s["error"] and "lower train.eta" not in s["error"]
    assert out[0].error == out[1].error  # the step size never entered
    ok = run(cfg(FIG4 | {"task.p": 0.5, "init.sigma": 0.01, "train.steps": 2}))
    assert ok.summary["status"] == "ok" and ok.summary["failure"] is None


def test_raising_eps_as_advised_cures_the_step_0_failure():
    c = PAPER | {"init.scheme": "gaussian", "init.sigma": 0.1, "train.steps": 1, "train.n_train": 200}
    bad = run(cfg(c))
    assert bad.failure == failures.UNDEFINED_AT_INIT
    needed = float(bad.error.split("raise train.eps above ")[1].split()[0])
    assert run(cfg(c | {"train.eps": 1.01 * needed})).summary["status"] == "ok"


def test_a_huge_step_diverges_later():
    r = run(cfg(BLOWUP | {"init.sigma": 0.01, "train.eta": 1e30}))
    s = r.summary
    assert s["status"] == "failed" and s["failure"] == failures.DIVERGED and s["steps"] >= 1
    assert "lower train.eta" in s["error"] and "init.sigma" not in s["error"]
    assert run(cfg(BLOWUP | {"init.sigma": 0.01, "train.eta": 1.0})).summary["failure"] is None


def test_batched_path_reports_the_same_failures():
    cfgs = [cfg(BLOWUP | v) for v in ({"init.sigma": 0.01}, {"init.sigma": 3.0, "seed": 1},
                                      {"init.sigma": 0.01, "train.eta": 1e30, "seed": 2})]
    together = multirun.train_group(cfgs)
    kinds = []
    for c, a in zip(cfgs, together):
        alone = run(c)
        for k in ("status", "failure", "error", "steps"):
            assert a.summary[k] == alone.summary[k], k
        kinds.append(a.summary["failure"])
    assert kinds == [None, failures.UNDEFINED_AT_INIT, failures.DIVERGED]


def test_gpt_and_crash_failures():
    gpt = {"task.name": "binary", "model.name": "gpt", "task.N": 16, "train.steps": 4, "eval.every": 2,
           "eval.n_test": 8, "train.batch": 4}
    s = run(cfg(gpt | {"train.lr": 1e100})).summary
    assert s["status"] == "failed" and s["failure"] == failures.DIVERGED and "train.lr" in s["error"]
    r = multirun.crashed(cfg(SMALL), ValueError("bad combination"))
    assert r.summary["status"] == "error" and r.failure == failures.CRASHED


def test_failure_of_old_summaries_is_inferred():
    assert failures.of({"status": "ok"}) is None
    assert failures.of({"status": "failed", "steps": 0}) == failures.UNDEFINED_AT_INIT
    assert failures.of({"status": "failed", "steps": 7}) == failures.DIVERGED
    assert failures.of({"status": "error"}) == failures.CRASHED and failures.of(None) == "missing"
    assert failures.counts([None, "diverged", float("nan"), "undefined-at-init", "diverged"]) == {
        "undefined-at-init": 1, "diverged": 2}


# ---- aggregates ----------------------------------------------------------------------------
def test_aggregate_never_averages_a_failed_run():
    df = pd.DataFrame({"task.p": [0.5] * 4 + [0.9] * 2, "seed": [0, 1, 2, 3, 0, 1],
                       "status": ["ok", "ok", "failed", "failed", "failed", "error"],
                       "failure": [None, None, "undefined-at-init", "diverged", "undefined-at-init", "crashed"],
                       "test_accuracy": [0.4, 0.6, 1.0, 0.9, 0.3, np.nan]})
    agg = aggregate(df).set_index("task.p")
    assert agg.loc[0.5, "test_accuracy_mean"] == pytest.approx(0.5)  # 0.725 if the failed counted
    assert agg.loc[0.5, ["n_runs", "n_ok", "n_undefined_at_init", "n_diverged"]].tolist() == [4, 2, 1, 1]
    assert math.isnan(agg.loc[0.9, "test_accuracy_mean"]) and agg.loc[0.9, "n_crashed"] == 1
    assert counts_line(df) == "6 runs: 2 ok, 4 failed (2 log-loss undefined at init, 1 diverged, 1 crashed)"


def test_sweep_with_failed_runs_excludes_and_counts_them(tmp_path, capsys):
    spec_text = """
seeds = 2
[base]
"task.K" = 5
"task.N" = 12
"model.M" = 30
"train.steps" = 4
"train.n_train" = 60
"eval.n_test" = 60
"init.scheme" = "gaussian"
[grid]
"task.p" = [0.5, 1.0]
"init.sigma" = [0.0, 3.0]
"""
    df = sweep(parse(spec_text), tmp_path / "sw", workers=1, quiet=True)
    bad = df["init.sigma"] == 3.0
    assert (df.loc[bad, "failure"] == failures.UNDEFINED_AT_INIT).all() and df.loc[~bad, "failure"].isna().all()
    assert (df.loc[bad, "test_accuracy"] >= 0).all()  # a failed run still has numbers, of its step 0
    agg = aggregate(df)
    a_bad, a_ok = agg[agg["init.sigma"] == 3.0], agg[agg["init.sigma"] == 0.0]
    assert a_bad["test_accuracy_mean"].isna().all() and (a_bad["n_undefined_at_init"] == 2).all()
    assert (a_ok["n_ok"] == 2).all() and (a_ok["n_undefined_at_init"] == 0).all()
    for _, row in a_ok.iterrows():
        assert row["test_accuracy_mean"] == pytest.approx(df[(df["task.p"] == row["task.p"]) & ~bad].test_accuracy.mean())
    # the sweep page counts them and shows the means of the ok runs only
    assert main(["report", str(tmp_path / "sw"), "--no-animation", "--quiet"]) == 0
    page = (tmp_path / "sw" / "report.html").read_text()
    assert "4 log-loss undefined at init" in page and "Means over seeds" in page
    # and a failed run's page names its failure
    rid = df.loc[bad, "run_id"].iloc[0]
    assert main(["report", str(tmp_path / "sw" / "runs" / rid), "--no-animation", "--quiet"]) == 0
    assert "The run failed (log-loss undefined at init)" in (tmp_path / "sw" / "runs" / rid / "report.html").read_text()
    assert json.loads((tmp_path / "sw" / "runs" / rid / "summary.json").read_text())["failure"] == "undefined-at-init"


# ---- phase-p-sigma's σ_c ------------------------------------------------------------------
def test_sigma_c_is_the_end_of_the_matching_prefix():
    assert sigma_c({1e-7: True, 1e-6: True, 1e-5: False, 1e-4: True}) == 1e-6
    assert sigma_c({1e-4: True, 1e-7: False, 1e-6: True}) == 0.0
    assert sigma_c({1e-7: True, 1e-3: True}) == 1e-3
    assert same_state((0.5, 1), (0.53, 1), 0.047) and not same_state((0.5, 1), (0.5, 2), 0.047)
    assert not same_state((0.5, 1), (0.56, 1), 0.047) and not same_state((0.5, 1), None, 0.047)


def fake_run(p, seed, acc_over_opt, lag, failed=None):
    """A finished (or failed) run as experiments.load_run gives it, with only what _p_sigma reads."""
    opt = max(p, 1 - p)
    att = [0.0] * 10
    att[len(att) - 1 - lag] = 1.0  # fig6_criteria.top_lag: lag 1 = the last entry
    summary = {"status": "failed" if failed else "ok", "failure": failed, "test_accuracy": acc_over_opt * opt,
               "optimal_accuracy": opt, "parent_attention": 1.0 if lag == 1 else 0.0, "steps": 0 if failed else 50}
    return {"summary": summary, "metrics": [{"attention": att}], "config": {"seed": seed, "eval": {"n_test": 1000}}}


def synthetic_runs(tiny_ok: float, broken: dict | None = None) -> dict:
    """Every seed ends like zero init (ratio 1, parent) for σ ≤ ``tiny_ok``, on the grandparent
    above it; σ = 0.1 undefined at init; ``broken``: {(p, σ): seed} that attends another token."""
    runs = {}
    for p in PS:
        for s in SIGMAS:
            rs = []
            for k in range(10):
                if s == 0.1:
                    rs.append(fake_run(p, k, 0.3, 1, failures.UNDEFINED_AT_INIT))
                elif s <= tiny_ok and (broken or {}).get((p, s)) != k:
                    rs.append(fake_run(p, k, 1.0, 1))
                else:
                    rs.append(fake_run(p, k, 0.6, 2))
            runs[f"p{p}-s{s}"] = rs
    for label in ("online", "n_train_10000"):
        runs[label] = [fake_run(0.9, k, 1.0, 1) for k in range(10)]
    return runs


def test_p_sigma_claim_measures_sigma_c(tmp_path):
    claims = {c["id"]: c for c in _p_sigma(synthetic_runs(1e-5), tmp_path, None)}
    c = claims["small-sigma-like-zero"]
    assert c["holds"] is True and c["measured"]["sigma_c_by_p"]["0.5"] == 1e-5
    assert c["measured"]["failed_runs_by_sigma"]["0.1"] == {"undefined-at-init": 60}
    assert (tmp_path / "phase_p_sigma.png").exists()
    cells = json.loads((tmp_path / "cells.json").read_text())
    assert cells["p=0.5,sigma=0.1"]["failed"] == {"undefined-at-init": 10} and cells["p=0.5,sigma=0.1"]["n_never"] == 10
    # one seed at the smallest σ ending elsewhere: σ_c(0.7) = 0 and the claim fails
    c = {x["id"]: x for x in _p_sigma(synthetic_runs(1e-5, {(0.7, 1e-7): 3}), tmp_path, None)}["small-sigma-like-zero"]
    assert c["holds"] is False and c["measured"]["sigma_c_by_p"]["0.7"] == 0.0
    assert c["measured"]["sigma_c_by_p"]["0.6"] == 1e-5
    # p = 1 (Theorem 4.1's unstable point) is reported but outside holds
    c = {x["id"]: x for x in _p_sigma(synthetic_runs(1e-5, {(1.0, 1e-7): 0}), tmp_path, None)}["small-sigma-like-zero"]
    assert c["holds"] is True and c["measured"]["sigma_c_by_p"]["1.0"] == 0.0
