"""Figures the report draws from what a run recorded (metrics.jsonl), as PNG or GIF bytes.

Everything is driven by the keys present: accuracy curves from every ``*accuracy`` key,
loss curves from every ``*loss`` key with the reference losses (Bayes, unigram, bigram)
as dashed lines, the KL curve, the structure scores (parent attention, cos(V, Πᵀ),
cos(V, (Πᵀ)^∘½), cos(V, 1 1ᵀ)); then V beside Πᵀ, attention by position and the Fig. 13 statistics
(weighted-average token h = X S and its variance) where the run logged them. A panel
whose keys are absent is left out.
"""

from __future__ import annotations

import io

import numpy as np

from .. import plots
from ..plots import REFERENCE_LOSSES, plt

STRUCTURE = {"parent_attention": "attention on the parent x_{N-1}", "value_cosine": "cos(V, Πᵀ)",
             "value_cosine_sqrt": "cos(V, (Πᵀ)^∘½)", "value_ones_cosine": "cos(V, 1 1ᵀ)"}


def png(fig) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def panels(n: int, w: float = 6.4, h: float = 4.8):
    """A figure of ``n`` panels, two per row, so each reads at page width (~1150 px)."""
    cols = min(n, 2)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    axes = list(axes.ravel())
    for ax in axes[n:]:
        ax.axis("off")
    return fig, axes[:n]


def scalar_keys(metrics: list[dict]) -> list[str]:
    keys = []
    for m in metrics:
        keys += [k for k, v in m.items() if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
                 and k not in keys]
    return keys


def series(metrics: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    steps = np.array([m.get("step", i) for i, m in enumerate(metrics)], dtype=float)
    vals = np.array([np.nan if m.get(key) is None else m[key] for m in metrics], dtype=float)
    return steps, vals


def curves(metrics: list[dict], summary: dict | None, K: int | None) -> bytes | None:
    """Accuracy | loss | KL | structure, each only if the run logged it."""
    summary = summary or {}
    keys = scalar_keys(metrics)
    acc = [k for k in keys if "accuracy" in k]
    loss = [k for k in keys if k.endswith("loss") and k not in REFERENCE_LOSSES]
    struct = [k for k in keys if k in STRUCTURE]
    shown = [p for p in (("acc", acc), ("loss", loss), ("kl", ["kl"] if "kl" in keys else []),
                         ("struct", struct)) if p[1]]
    if not shown:
        return None
    fig, axes = panels(len(shown))
    for ax, (name, ks) in zip(axes, shown):
        for k in ks:
            ax.plot(*series(metrics, k), label=k.replace("_", " "), marker="." if len(metrics) < 30 else None)
        ax.set_xlabel("GD iteration")
        if name == "acc":
            opt = summary.get("optimal_accuracy")
            plots.references(ax, opt if isinstance(opt, (int, float)) else None, K)
            plots.accuracy_axes(ax, "accuracy")
        elif name == "loss":
            plots.loss_references(ax, summary, metrics[0])
            ax.set_ylabel("loss, nats")
            ax.set_title("loss")
            ax.legend()
        elif name == "kl":
            plots.kl_axes(ax, "KL to the true next-state law")
        else:
            ax.set_ylim(-0.05, 1.05)
            ax.set_ylabel("score (1 = the theory's end point)")
            ax.set_title("structure")
            for line, k in zip(ax.get_lines(), ks):
                line.set_label(STRUCTURE[k])
            ax.legend()
    return png(fig)


def structure(metrics: list[dict], Pi_T, zoom: int = 10) -> bytes | None:
    """V at the last logged step beside Πᵀ; attention by position, all and the last ``zoom``."""
    last = next((m for m in reversed(metrics) if "V" in m or "attention" in m), None)
    if last is None:
        return None
    V, att = last.get("V"), last.get("attention")
    cells = [c for c in (("V", V), ("Pi", Pi_T if V is not None else None), ("att", att),
                         ("zoom", att if att is not None and len(att) > zoom else None)) if c[1] is not None]
    fig, axes = panels(len(cells))
    for ax, (name, data) in zip(axes, cells):
        if name == "V":
            plots.heatmap(ax, data, f"V at step {last.get('step')}")
        elif name == "Pi":
            plots.heatmap(ax, data, "Πᵀ (the optimal V up to scale)")
        elif name == "att":
            plots.attention_axes(ax, data, f"attention by position, step {last.get('step')}")
        else:
            plots.attention_axes(ax, data, f"last {zoom} positions", zoom=zoom)
    return png(fig)


def token_statistics(metrics: list[dict], snapshots: int = 4) -> bytes | None:
    """Fig. 13: the weighted-average token of one test sequence and its per-dimension
    variance across test sequences, at up to ``snapshots`` logged steps."""
    have = [m for m in metrics if m.get("h_example") is not None and m.get("h_var") is not None]
    if not have:
        return None
    idx = np.unique(np.linspace(0, len(have) - 1, min(snapshots, len(have))).round().astype(int))
    fig, axes = panels(len(idx), h=4.2)
    for ax, i in zip(axes, idx):
        m = have[i]
        x = np.arange(1, len(m["h_example"]) + 1)
        ax.bar(x - 0.2, m["h_example"], 0.4, label="h = X S (one sequence)")
        ax.bar(x + 0.2, m["h_var"], 0.4, label="variance across test sequences")
        ax.set_xlabel("state (dimension of h)")
        ax.set_ylabel("value")
        ax.set_title(f"step {m.get('step')}")
    axes[0].legend(fontsize=10)
    fig.suptitle("Weighted-average token and its variance (Fig. 13)")
    return png(fig)


class _Bars:
    """``ax.bar(range(1, n + 1), h, width=0.8)`` as one PolyCollection: the same pixels, but
    one artist to lay out and draw per frame instead of n Rectangles (the report's
    animations have up to 4 x 101 bars x 32 frames)."""

    def __init__(self, ax, n: int, width: float = 0.8):
        from matplotlib.collections import PolyCollection

        x = np.arange(1, n + 1, dtype=float)
        self.verts = np.zeros((n, 4, 2))  # (n, 4, 2): a Rectangle's corners, counter-clockwise from (x0, 0)
        self.verts[:, :, 0] = x[:, None] + np.array([-1, 1, 1, -1]) * width / 2
        self.collection = PolyCollection(self.verts, facecolors=plt.rcParams["axes.prop_cycle"].by_key()["color"][0],
                                         animated=True)
        ax.add_collection(self.collection, autolim=False)
        lo, hi = 1 - width / 2, n + width / 2  # bar()'s x-limits: the bars plus the default 5% margins
        pad = plt.rcParams["axes.xmargin"] * (hi - lo)
        ax.set_xlim(lo - pad, hi + pad)

    def set_heights(self, h) -> None:
        self.verts[:, 2:, 1] = np.asarray(h, dtype=float)[:, None]
        self.collection.set_verts(self.verts)


def animation(runs: list[tuple[str, list[dict]]], max_frames: int = 32, frame_ms: int = 200) -> bytes | None:
    """An animated GIF of attention by position and V over training, one row per run
    (``(label, metrics)``, at most four). Only logged steps that carry both are drawn.
    Axes are drawn once; each frame redraws only the bars, V and the texts (blitting)."""
    from PIL import Image

    rows = [(label, [m for m in ms if m.get("attention") is not None and m.get("V") is not None])
            for label, ms in runs[:4]]
    rows = [(label, ms) for label, ms in rows if len(ms) > 1]
    if not rows:
        return None
    n = min(len(ms) for _, ms in rows)
    frames = np.unique(np.linspace(0, n - 1, min(max_frames, n)).round().astype(int))
    H = 3.1 * len(rows) + 0.5  # inches
    # fixed margins (what tight_layout finds for this layout, in inches): tight_layout
    # measured every text again and was a quarter of the report's time
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, H), squeeze=False, dpi=80,
                             gridspec_kw={"width_ratios": [2.2, 1]})
    fig.subplots_adjust(left=0.075, right=0.957, bottom=0.59 / H, top=1 - 0.68 / H, wspace=0.035,
                        hspace=0.45)
    drawn = []
    for (label, ms), (ax_a, ax_v) in zip(rows, axes):
        att = np.array([ms[i]["attention"] for i in frames])  # (F, N)
        V = np.array([ms[i]["V"] for i in frames], dtype=float)  # (F, K, K)
        bars = _Bars(ax_a, att.shape[1])
        bars.set_heights(att[0])
        ax_a.set_ylim(0, max(float(att.max()) * 1.08, 1e-12))
        ax_a.set_xlabel("token position j (N = empty slot)")
        ax_a.set_ylabel("mean attention $S_j$")
        ax_a.set_title(f"{label}: attention by position")
        acc = ax_a.text(0.98, 0.92, "", transform=ax_a.transAxes, ha="right", animated=True)
        im = ax_v.imshow(V[0], cmap="viridis", vmin=float(V.min()), vmax=float(V.max()), animated=True)
        fig.colorbar(im, ax=ax_v, fraction=0.046, pad=0.04)
        ax_v.set_xticks([])
        ax_v.set_yticks([])
        ax_v.set_title(f"V ({label})")
        drawn.append((ms, att, V, bars, acc, im))
    step = fig.text(0.5, 1 - 0.2 / H, "", ha="center", va="center", fontsize=15, animated=True)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    images = []
    for f, i in enumerate(frames):
        fig.canvas.restore_region(background)
        for ms, att, V, bars, acc, im in drawn:
            bars.set_heights(att[f])
            bars.collection.axes.draw_artist(bars.collection)
            im.set_data(V[f])
            im.axes.draw_artist(im)
            a = ms[i].get("test_accuracy")
            acc.set_text(f"test accuracy {a:.3f}" if a is not None else "")
            acc.axes.draw_artist(acc)
        step.set_text(f"GD iteration {drawn[0][0][i].get('step')}")
        fig.draw_artist(step)
        images.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()))
    plt.close(fig)
    palette = images[-1].quantize(colors=96)
    images = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    buf = io.BytesIO()
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 8]  # hold the last frame
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
    return buf.getvalue()
