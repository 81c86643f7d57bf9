"""Every metric of a run, each formula written once (``formulas.py``), computed for a
batch of R models where that is how it is used (one model: R = 1).

- ``formulas``  the formulas: test accuracy (ties to the smallest label), KL(P(y|x) ‖ q)
                of the log-eps read-out q = (f⁺+ε)/Σ and of any predictive law, Frobenius
                cosines of V against Πᵀ, (Πᵀ)^{∘½}, 1 1ᵀ, token logit spread, f-distances
- ``shicao``    the Shi & Cao model's lines: :func:`evaluate` (one model; its scalars by
                the C kernel ``ops/shicao_kernel.metrics`` where usable, tested equal to
                torch), :func:`evaluate_many` (R batched models, ``runs/multirun.py``)
- ``reference`` the reference transformer's lines (``loop.ReferenceAdapter``), the paper's
                V of a model (:func:`value_matrix`) and its alignment
- ``binary``    the binary chain's lines for R gpt models (:func:`binary_metrics`), one
                model's (:func:`evaluate_gpt`)
"""

from .binary import binary_metrics, evaluate_gpt
from .formulas import (accuracy, cosine, f_distances, frobenius_cosines, kl_divergence, kl_log_eps, logit_spread,
                       unit_targets)
from .reference import evaluate_reference, value_alignment, value_matrix
from .shicao import evaluate, evaluate_many, truths

__all__ = ["accuracy", "binary_metrics", "cosine", "evaluate", "evaluate_gpt", "evaluate_many", "evaluate_reference",
           "f_distances", "frobenius_cosines", "kl_divergence", "kl_log_eps", "logit_spread", "truths",
           "unit_targets", "value_alignment", "value_matrix"]
