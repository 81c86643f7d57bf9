"""the paper's −log(f_y + ε) on the linear output f (ε = train.eps)

    ℓ(f, y) = −log(e_yᵀ f + ε);  the predictive law q ∝ f⁺ + ε (metrics.formulas.kl_log_eps)
"""

USES = ("train.eps",)
RANK = 0


def per_sample(f, y, eps):
    return -(f.gather(-1, y[..., None])[..., 0] + eps).log()


def probs(f, eps):
    q = f.clamp(min=0.0) + eps
    return q / q.sum(-1, keepdim=True)
