"""phase-p-sigma's "where we differ" entries are built from its measured claims."""

import copy

from walkformer.experiments.phases import _p_sigma_differences


def stat(mean, n=10):
    return {"mean": mean, "std": 0.0, "min": mean, "max": mean, "n_seeds": n}


CLAIMS = [
    {"id": "zero-init-reaches-opt", "holds": False, "measured": {
        "p=0.5": stat(1.0), "p=0.9": stat(0.99),
        "exceptions": [{"p": 0.9, "seed": 1, "test_accuracy": 0.818, "parent_attention": 3e-11,
                        "top_attention_lag": 2, "grandparent_optimum": 0.82}],
        "control_p": 0.9, "control": {
            "online": {"reach_opt": 9, "seeds": 10, "same_final_accuracy_as_fixed_set": True},
            "n_train_10000": {"reach_opt": 10, "seeds": 10, "parent_attention": stat(1.0)},
            "fixed": {"reach_opt": 9, "seeds": 10}}}},
    {"id": "small-sigma-like-zero", "holds": True, "measured": {
        "sigma_c_by_p": {"0.5": 1e-05, "0.9": 1e-06, "1.0": 0.0},
        "seeds_like_zero_by_sigma": {"1e-06": {"0.5": 10, "0.9": 10, "1.0": 0},
                                     "1e-05": {"0.5": 10, "0.9": 8, "1.0": 0},
                                     "0.001": {"0.5": 1, "0.9": 2, "1.0": 0}},
        "mean_accuracy_over_opt_by_sigma": {"0.0": {"0.5": 1.0, "0.9": 1.0, "1.0": 1.0},
                                            "1e-06": {"0.5": 1.0, "0.9": 1.0, "1.0": 1.0},
                                            "1e-05": {"0.5": 1.0, "0.9": 0.97, "1.0": 1.0},
                                            "0.001": {"0.5": 0.7, "0.9": 0.6, "1.0": 1.0}},
        "failed_runs_by_sigma": {"0.0": {}, "1e-06": {}, "1e-05": {}, "0.001": {"undefined-at-init": 3}},
        "runs_per_sigma": 30, "seeds": 10}},
]


def test_differences_cover_both_claims_and_follow_the_numbers():
    d = _p_sigma_differences(CLAIMS, None)
    assert [x["claims"] for x in d] == [["zero-init-reaches-opt"], ["small-sigma-like-zero"]]
    assert "19 of 20" in d[0]["ours"] and "token 2 back" in d[0]["ours"] and "0.820" in d[0]["ours"]
    assert "9 of 10 reach OPT (9 with the fixed set; every seed" in d[0]["control"] and "10 of 10" in d[0]["control"]
    assert "p = 0.5: 1e-05, p = 0.9: 1e-06;" in d[1]["ours"] and "0.77 at σ = 0.001" in d[1]["ours"]
    assert "of 20 (p < 1): σ = 1e-06: 20, σ = 1e-05: 18, σ = 0.001: 3" in d[1]["control"]
    assert "σ = 0.001: 3 log-loss undefined at init" in d[1]["control"] and "diverged" not in d[1]["control"]
    other = copy.deepcopy(CLAIMS)
    other[0]["measured"]["control"]["online"] |= {"reach_opt": 7, "same_final_accuracy_as_fixed_set": False}
    c = _p_sigma_differences(other, None)[0]["control"]
    assert "7 of 10 reach OPT (9 with the fixed set)" in c and "first batch" not in c
