"""rotary positions (Su et al.): queries and keys rotated by their slot, nothing added

    q_i ← R_i q_i,  k_j ← R_j k_j:  pair (2k, 2k+1) turns by i·θ_k,  θ_k = 10000^{-2k/n}
    (slots i = 1..S), so ⟨R_i q, R_j k⟩ depends on i − j only. Split attention only (merged W
    has no separate q, k); an even head width n.
"""

KIND = "rotary"
USES = ()
RANK = 4


def rotate(x, slots):
    """Rotate the last axis of x (..., S, n) by the positions ``slots`` (S,) (0-based).

    Pairs (2k, 2k+1) turn by (slot+1)·θ_k, θ_k = 10000^{-2k/n}; an odd n leaves the last
    coordinate as it is."""
    import torch

    n = x.shape[-1]
    k = torch.arange(0, n - 1, 2, dtype=torch.float64, device=x.device)  # (n//2,)
    angle = (slots.to(torch.float64)[:, None] + 1) / 10000.0 ** (k / n)  # (S, n//2)
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    a, b = x[..., 0 : 2 * len(k) : 2], x[..., 1 : 2 * len(k) : 2]  # (..., S, n//2)
    rot = torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)  # (..., S, 2·(n//2))
    return torch.cat([rot, x[..., 2 * len(k) :]], -1)


def check(m, t, D):
    if m.attention != "split":
        from . import POSITIONS, kind

        others = [p for p in POSITIONS if kind(p) != "rotary"]
        return ("model.pos", m.pos, f"{', '.join(others[:-1])} or {others[-1]} with model.attention=merged "
                "(rope rotates q and k: model.attention=split)")
    dh = m.d_head or D // m.heads
    if dh % 2:
        return (("model.d_head", m.d_head) if m.d_head else ("model.heads", m.heads)) + (
            f"an even head width with model.pos=rope (it rotates pairs of coordinates; the width is {dh})",)
    return None
