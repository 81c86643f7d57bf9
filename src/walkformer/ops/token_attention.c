/* Causal softmax attention whose queries, keys and values come from a two-token vocabulary:
   the first layer of the binary gpt, where the input at position n is one of two vectors
   (token 0 or 1), so q_n = Q^{x_n}_n, k_i = K^{x_i}_i, v_i = V^{x_i}_i with tables (2, N, dh).
   Loaded by token_attention.py, which documents the maths; compiled once per machine.

   The scores then take four values per (n, i), s^{ab}_{n,i} = <Q^a_n, K^b_i>/sqrt(dh), the
   same for every sequence of the batch. Rows are processed in blocks of RB: for a block,
   the four score rows and their exps E^{ab}_{n,i} = exp(s^{ab}_{n,i} - M^{ab}_n) (M = the
   row's maximum) are computed once (the "tile"), and every sequence then reads its
   weights e_i = c_{x_i} E^{a x_i}_{n,i} with a = x_n, c_b = exp(M^{ab}_n - m) and m the
   largest M^{ab}_n among the key tokens present in the sequence's prefix (so c_b <= 1):
   no score and no exp per sequence. m is an upper bound of the row's true maximum; when
   it is too loose (sum e < TINY: the true maximum is more than 23 below it, where E could
   lose terms to underflow) the row is recomputed exactly, scores and exps from the tables
   gathered for the sequence (the "exact" rows, flagged for the backward). The forward
   keeps the tiles (H, N, 4, Np) for the backward (16 MB at N = 1024, float32).
   Backward: the sequences' dS are summed per token pair into four tile rows DS^{ab}, and
   dQ^a_n = sum_b sum_i DS^{ab}_{n,i} K^b_i/sqrt(dh), dK^b_i = sum_a sum_n DS^{ab}_{n,i} Q^a_n/sqrt(dh)
   are taken once per tile instead of once per sequence; dv is per sequence, summed by
   token into dV at the end.
   Same layout conventions as causal_attention.c (transposed (dh, Np) rows, Np padded by a
   cache line); fixed arithmetic order, so the same inputs give the same bits.
   Cost at the papers' setting (B = 16, N = 1024, dh = 8, float32, this repo's Zen 1 VM):
   forward ~12 ms (tile ~4), backward ~21 ms, against 21 + 24 for causal_attention.c.
   What bounds it is the load/store count (a 256-bit load is two 128-bit ops on Zen 1):
   per sequence and 8 scores, the backward group of 4 rows still does ~19 loads and ~4
   stores (broadcast dO components mostly); 8 rows per group, or dp in two chains, were
   slower. Without LayerNorm (kd given) the tile is half as dear and the forward ~9 ms. */
#ifndef TOK_BODY
#define TOK_BODY
#include "simd.h"

#include "simd_f32.h"
#include __FILE__
#include "simd_undef.h"
#include "simd_f64.h"
#include __FILE__

#else  /* the body, once per dtype */

#define TINY ((T)1e-10)  /* the smallest sum of fast weights trusted (see the top) */
#define RB 16  /* query rows per tile (8, 32 and 64 measured the same) */
#define TDISPATCH(CALL) switch (dh) { case 8: CALL(8); break; case 4: CALL(4); break; \
    case 16: CALL(16); break; case 2: CALL(2); break; case 1: CALL(1); break; default: CALL(dh); }

#include "simd_dtype.h"  /* row_stride, alloc, hsum, hmax, lanes */

static T *NAME(talloc)(int64_t n) {  /* zeroed: the padding past N must read as 0 */
    T *p = NAME(alloc)(n);
    if (p) memset(p, 0, sizeof(T) * n);
    return p;
}

static ALWAYS_INLINE VT NAME(blend)(IT m, VT a, VT b) { return (VT)((m & (IT)a) | (~m & (IT)b)); }  /* m ? a : b */
static ALWAYS_INLINE VT NAME(vmax)(VT a, VT b) { return NAME(blend)(a > b, a, b); }

/* The tile of rows n0..n1-1: E[(r 4 + 2a + b) Np + i] = exp(s^{ab}_{n,i} - M^{ab}_n) for i <= n,
   0 from n + 1 to the end of the row's last vector; M[4 r + 2a + b] = M^{ab}_n. Q (2, N, dh),
   Kt (2, dh, Np): the two key tables transposed. The four rows of n share each key load
   and their exps are interleaved (VEXP4). */
static void NAME(tile)(int64_t n0, int64_t n1, int64_t N, int64_t Np, int dh, T scale, const T *restrict Q,
                       const T *restrict Kt, const T *restrict kd, T *restrict E, T *restrict M) {
    const VT lane = NAME(lanes)();
    if (kd) {  /* K^1 = K^0 + kd: s^{a1} = s^{a0} + alpha^a, E^{a1} = E^{a0} (rows 2a only), M^{a1} = M^{a0} + alpha^a */
        for (int64_t n = n0; n < n1; n++) {
            const int64_t r = n - n0, nt = (n + W) / W;
            T *row = E + r * 4 * Np;
            VT qb[2][64], mx[2];
            T alpha[2];
            for (int a = 0; a < 2; a++) {
                alpha[a] = 0;
                for (int c = 0; c < dh; c++) {
                    qb[a][c] = (VT){0} + Q[(a * N + n) * dh + c] * scale;
                    alpha[a] += Q[(a * N + n) * dh + c] * scale * kd[c];
                }
                mx[a] = (VT){0} - INFINITY;
            }
            for (int64_t t = 0; t < nt; t++) {
                VT s[4];  /* a = 0, 1 in two chains each (FMA latency) */
                for (int j = 0; j < 4; j++) s[j] = (VT){0};
                for (int c = 0; c + 1 < dh; c += 2) {
                    const VT k0 = *(const VU *)(Kt + c * Np + t * W), k1 = *(const VU *)(Kt + (c + 1) * Np + t * W);
                    s[0] += qb[0][c] * k0; s[1] += qb[1][c] * k0; s[2] += qb[0][c + 1] * k1; s[3] += qb[1][c + 1] * k1;
                }
                if (dh % 2) {
                    const VT k0 = *(const VU *)(Kt + (dh - 1) * Np + t * W);
                    s[0] += qb[0][dh - 1] * k0; s[1] += qb[1][dh - 1] * k0;
                }
                s[0] += s[2]; s[1] += s[3];
                if (t == nt - 1) {
                    const IT ok = (lane + (T)(t * W)) < (T)(n + 1);
                    for (int a = 0; a < 2; a++) s[a] = NAME(blend)(ok, s[a], (VT){0} - INFINITY);
                }
                for (int a = 0; a < 2; a++) { *(VU *)(row + 2 * a * Np + t * W) = s[a]; mx[a] = NAME(vmax)(s[a], mx[a]); }
            }
            T m[2];
            for (int a = 0; a < 2; a++) {
                M[4 * r + 2 * a] = m[a] = NAME(hmax)(mx[a]);
                M[4 * r + 2 * a + 1] = m[a] + alpha[a];
            }
            int64_t t = 0;
            for (; t + 1 < nt; t += 2) {
                VT e[4] = {*(VU *)(row + t * W) - m[0], *(VU *)(row + 2 * Np + t * W) - m[1],
                           *(VU *)(row + (t + 1) * W) - m[0], *(VU *)(row + 2 * Np + (t + 1) * W) - m[1]};
                VEXP4(e);
                *(VU *)(row + t * W) = e[0]; *(VU *)(row + 2 * Np + t * W) = e[1];
                *(VU *)(row + (t + 1) * W) = e[2]; *(VU *)(row + 2 * Np + (t + 1) * W) = e[3];
            }
            for (; t < nt; t++)
                for (int a = 0; a < 2; a++) {
                    VT e = *(VU *)(row + 2 * a * Np + t * W) - m[a];
                    VEXP1(&e);
                    *(VU *)(row + 2 * a * Np + t * W) = e;
                }
        }
        return;
    }
    for (int64_t n = n0; n < n1; n++) {
        const int64_t r = n - n0, nt = (n + W) / W;
        T *row = E + r * 4 * Np;
        VT qb[2][64], mx[4];
        for (int a = 0; a < 2; a++)
            for (int c = 0; c < dh; c++) qb[a][c] = (VT){0} + Q[(a * N + n) * dh + c] * scale;
        for (int j = 0; j < 4; j++) mx[j] = (VT){0} - INFINITY;
        for (int64_t t = 0; t < nt; t++) {
            VT s[4];
            for (int j = 0; j < 4; j++) s[j] = (VT){0};
            for (int c = 0; c < dh; c++) {
                const VT k0 = *(const VU *)(Kt + c * Np + t * W), k1 = *(const VU *)(Kt + (dh + c) * Np + t * W);
                s[0] += qb[0][c] * k0; s[1] += qb[0][c] * k1; s[2] += qb[1][c] * k0; s[3] += qb[1][c] * k1;
            }
            if (t == nt - 1) {
                const IT ok = (lane + (T)(t * W)) < (T)(n + 1);
                for (int j = 0; j < 4; j++) s[j] = NAME(blend)(ok, s[j], (VT){0} - INFINITY);
            }
            for (int j = 0; j < 4; j++) { *(VU *)(row + j * Np + t * W) = s[j]; mx[j] = NAME(vmax)(s[j], mx[j]); }
        }
        T m[4];
        for (int j = 0; j < 4; j++) M[4 * r + j] = m[j] = NAME(hmax)(mx[j]);
        for (int64_t t = 0; t < nt; t++) {
            VT e[4];
            for (int j = 0; j < 4; j++) e[j] = *(VU *)(row + j * Np + t * W) - m[j];
            VEXP4(e);
            for (int j = 0; j < 4; j++) *(VU *)(row + j * Np + t * W) = e[j];
        }
    }
}

/* Row n of a sequence (key masks xm: all ones where x_i = 1), query token a: the weights
   e_i into ebuf (0 past n to the end of the last vector) and their sum. Fast (exact = 0):
   e_i = c_{x_i} E^{a x_i}_{n,i} with c from cm. Exact: the scores from the gathered tables,
   e_i = exp(s_i - max s). */
static T NAME(row_e)(int exact, int64_t n, int64_t Np, int dh, T scale, const T *restrict qa,
                     const T *restrict Kt, const T *restrict Ea, int64_t e1, const T *cm, const IT *restrict xm,
                     T *restrict ebuf) {
    const int64_t nt = (n + W) / W;
    VT l = (VT){0};
    if (!exact) {
        const VT c0 = (VT){0} + cm[0], c1 = (VT){0} + cm[1];
        for (int64_t t = 0; t < nt; t++) {
            const VT e = NAME(blend)(xm[t], c1 * *(const VU *)(Ea + e1 + t * W), c0 * *(const VU *)(Ea + t * W));
            *(VU *)(ebuf + t * W) = e;
            l += e;
        }
        return NAME(hsum)(l);
    }
    const VT lane = NAME(lanes)();
    VT mx = (VT){0} - INFINITY;
    for (int64_t t = 0; t < nt; t++) {
        VT s = (VT){0};
        for (int c = 0; c < dh; c++)
            s += (qa[c] * scale) * NAME(blend)(xm[t], *(const VU *)(Kt + (dh + c) * Np + t * W),
                                               *(const VU *)(Kt + c * Np + t * W));
        if (t == nt - 1) s = NAME(blend)((lane + (T)(t * W)) < (T)(n + 1), s, (VT){0} - INFINITY);
        *(VU *)(ebuf + t * W) = s;
        mx = NAME(vmax)(s, mx);
    }
    const T m = NAME(hmax)(mx);
    for (int64_t t = 0; t < nt; t++) {
        VT e = *(VU *)(ebuf + t * W) - m;
        VEXP1(&e);
        *(VU *)(ebuf + t * W) = e;
        l += e;
    }
    return NAME(hsum)(l);
}

/* c_b = exp(M^{ab}_n - m) for the key tokens b present in the prefix (0 for the others). */
static void NAME(scales)(const T *Mr, int a, int has0, int has1, T *cm) {
    const T m0 = Mr[2 * a], m1 = Mr[2 * a + 1];
    const T m = !has0 ? m1 : !has1 ? m0 : (m0 > m1 ? m0 : m1);
    cm[0] = !has0 ? 0 : m0 == m ? 1 : SEXP(m0 - m);  /* at most one libm exp per row, in T */
    cm[1] = !has1 ? 0 : m1 == m ? 1 : SEXP(m1 - m);
}

/* Per call: key masks (B, Np/W vectors) and the first index of each token per sequence. */
static IT *NAME(masks)(int64_t B, int64_t N, int64_t Np, const int32_t *x, int64_t *first) {
    IT *xm = (IT *)NAME(talloc)(B * Np);
    if (!xm) return NULL;
    for (int64_t b = 0; b < B; b++) {
        first[2 * b] = first[2 * b + 1] = N;
        __typeof__(((IT){0})[0]) *m = (void *)(xm + b * (Np / W));  /* the lanes' integer type */
        for (int64_t i = N - 1; i >= 0; i--) {
            const int xi = x[b * N + i] != 0;
            first[2 * b + xi] = i;
            m[i] = -xi;
        }
    }
    return xm;
}

/* Sequence b's values gathered from the tables by token, transposed: vt[c Np + i] = V^{x_i}_i[c]. */
static void NAME(gather_t)(int64_t N, int64_t Np, int dh, const T *Vh, const int32_t *xs, T *vt) {
    for (int64_t i = 0; i < N; i++) {
        const T *src = Vh + ((xs[i] != 0) * N + i) * dh;
        for (int c = 0; c < dh; c++) vt[c * Np + i] = src[c];
    }
}

/* (N, dh) rows -> (dh, Np) columns. */
static void NAME(transpose)(int64_t N, int64_t Np, int dh, const T *a, T *at) {
    for (int64_t i = 0; i < N; i++)
        for (int c = 0; c < dh; c++) at[c * Np + i] = a[i * dh + c];
}

/* One sequence's rows n0..n1-1 of a tile, forward: e_i, o_n, and R's row (see tok_fwd).
   A row's weights are made and used in one pass (e_i = c_{x_i} E^{a x_i}_{n,i} into o's sums);
   a row whose sum falls below TINY is redone exactly through ebuf. */
static ALWAYS_INLINE void NAME(fwd_seq)(int64_t n0, int64_t n1, int64_t N, int64_t Np, const int dh, const int SH,
                                        T scale, const T *restrict Qh, const T *restrict Kt, const T *restrict E,
                                        const T *restrict M, const T *restrict vb, const IT *restrict xb,
                                        const int32_t *restrict xs, int64_t first0, int64_t first1,
                                        T *restrict o, T *restrict R, T *restrict ebuf) {
    for (int64_t n = n0; n < n1; n++) {
        const int64_t r = n - n0, nt = (n + W) / W;
        const int a = xs[n] != 0;
        T *Rn = R + n * 4;
        NAME(scales)(M + 4 * r, a, first0 <= n, first1 <= n, Rn);
        const T *Ea = E + (r * 4 + 2 * a) * Np;
        const VT c0 = (VT){0} + Rn[0], c1 = (VT){0} + Rn[1];
        VT acc[64], lv = (VT){0};
        for (int c = 0; c < dh; c++) acc[c] = (VT){0};
        for (int64_t t = 0; t < nt; t++) {
            const VT e = SH ? *(const VU *)(Ea + t * W) * NAME(blend)(xb[t], c1, c0)  /* E^{a1} = E^{a0} */
                            : NAME(blend)(xb[t], c1 * *(const VU *)(Ea + Np + t * W), c0 * *(const VU *)(Ea + t * W));
            lv += e;
            for (int c = 0; c < dh; c++) acc[c] += e * *(const VU *)(vb + c * Np + t * W);
        }
        T l = NAME(hsum)(lv);
        Rn[3] = 0;
        if (!(l >= TINY)) {  /* the bound m was too loose (or non-finite): the exact row */
            l = NAME(row_e)(1, n, Np, dh, scale, Qh + (a * N + n) * dh, Kt, Ea, 0, Rn, xb, ebuf);
            Rn[3] = 1;
            for (int c = 0; c < dh; c++) acc[c] = (VT){0};
            for (int64_t t = 0; t < nt; t++) {
                const VT e = *(const VU *)(ebuf + t * W);
                for (int c = 0; c < dh; c++) acc[c] += e * *(const VU *)(vb + c * Np + t * W);
            }
        }
        const T inv = 1 / l;
        Rn[2] = inv;
        for (int c = 0; c < dh; c++) o[n * dh + c] = NAME(hsum)(acc[c]) * inv;
    }
}

/* Q, K, V (H, 2, N, dh) tables; kd (H, dh) or NULL: K^1 = K^0 + kd (no LayerNorm: the
   key of token 1 is token 0's plus e W_K), so s^{a1} = s^{a0} + <Q^a_n, kd>/sqrt(dh) and the
   tile needs two score rows and two exps, not four, and a sequence one E load per key, not
   two (E^{a1} = E^{a0}, M^{a1} = M^{a0} + that shift); o (B, H, N, dh); x (B, N) int32 tokens in {0, 1};
   R (B, H, N, 4): per row c_0, c_1, 1/sum e, exact flag; Eall (H, N, 4, Np) or NULL: where
   the tiles are kept for the backward (which recomputes them if it gets NULL).
   Returns 0; 1 if dh > 64, 2 if out of memory. */
static int NAME(tok_fwd1)(int64_t B, int64_t H, int64_t N, int64_t dh, T scale, const T *Q, const T *K,
                          const T *V, const T *kd, const int32_t *x, T *o, T *R, T *Eall) {
    if (dh > 64) return 1;
    const int64_t Np = NAME(row_stride)(N), nv = Np / W;
    int64_t *first = malloc(sizeof(int64_t) * 2 * B);
    IT *xm = first ? NAME(masks)(B, N, Np, x, first) : NULL;
    T *buf = xm ? NAME(talloc)(2 * dh * Np + B * dh * Np + RB * 4 * Np + RB * 4 + Np) : NULL;
    if (!buf) { free(first); free(xm); return 2; }
    T *Kt = buf, *vt = Kt + 2 * dh * Np, *E = vt + B * dh * Np, *M = E + RB * 4 * Np, *ebuf = M + RB * 4;
    for (int64_t h = 0; h < H; h++) {
        const T *Qh = Q + h * 2 * N * dh;
        for (int a = 0; a < 2; a++) NAME(transpose)(N, Np, dh, K + (h * 2 + a) * N * dh, Kt + a * dh * Np);
        for (int64_t b = 0; b < B; b++) NAME(gather_t)(N, Np, dh, V + h * 2 * N * dh, x + b * N, vt + b * dh * Np);
        for (int64_t n0 = 0; n0 < N; n0 += RB) {
            const int64_t n1 = n0 + RB < N ? n0 + RB : N;
            T *Et = Eall ? Eall + (h * N + n0) * 4 * Np : E;  /* the tile, kept for the backward if Eall */
            NAME(tile)(n0, n1, N, Np, dh, scale, Qh, Kt, kd ? kd + h * dh : NULL, Et, M);
            for (int64_t b = 0; b < B; b++) {
                const int64_t off = (b * H + h) * N;
#define FWDS(DH) { if (kd) FWDS2(DH, 1); else FWDS2(DH, 0); }
#define FWDS2(DH, SH) NAME(fwd_seq)(n0, n1, N, Np, DH, SH, scale, Qh, Kt, Et, M, vt + b * dh * Np, xm + b * nv, x + b * N, \
                               first[2 * b], first[2 * b + 1], o + off * dh, R + off * 4, ebuf)
                TDISPATCH(FWDS)
            }
        }
    }
    free(first); free(xm); free(buf);
    return 0;
}

#include "token_attention_bwd.h"  /* the backward: DS tiles, dQ, dK, dV */

/* G models at once (the batched gpt; 1 for a single model), each with its own tables and
   tokens: every array gets a leading model axis (Q, K, V, dQ, dK, dV (G, H, 2, N, dh);
   x (G, B, N); o, dO (G, B, H, N, dh); R (G, B, H, N, 4); Eall (G, H, N, 4, Np); kd (G, H, dh)). */
int NAME(tok_fwd)(int64_t G, int64_t B, int64_t H, int64_t N, int64_t dh, T scale, const T *Q, const T *K,
                  const T *V, const T *kd, const int32_t *x, T *o, T *R, T *Eall) {
    const int64_t t = H * 2 * N * dh, Np = NAME(row_stride)(N);
    for (int64_t g = 0; g < G; g++) {
        const int rc = NAME(tok_fwd1)(B, H, N, dh, scale, Q + g * t, K + g * t, V + g * t, kd ? kd + g * H * dh : NULL,
                                      x + g * B * N,
                                      o + g * B * H * N * dh, R + g * B * H * N * 4, Eall ? Eall + g * H * N * 4 * Np : NULL);
        if (rc) return rc;
    }
    return 0;
}

int NAME(tok_bwd)(int64_t G, int64_t B, int64_t H, int64_t N, int64_t dh, T scale, const T *Q, const T *K,
                  const T *V, const T *kd, const int32_t *x, const T *o, const T *R, const T *Eall, const T *dO, T *dQ, T *dK,
                  T *dV) {
    const int64_t t = H * 2 * N * dh, u = B * H * N, Np = NAME(row_stride)(N);
    for (int64_t g = 0; g < G; g++) {
        const int rc = NAME(tok_bwd1)(B, H, N, dh, scale, Q + g * t, K + g * t, V + g * t, kd ? kd + g * H * dh : NULL,
                                      x + g * B * N, o + g * u * dh,
                                      R + g * u * 4, Eall ? Eall + g * H * N * 4 * Np : NULL, dO + g * u * dh,
                                      dQ + g * t, dK + g * t, dV + g * t);
        if (rc) return rc;
    }
    return 0;
}
#undef FWDS
#undef FWDS2
#undef BWDS
#undef BWDS2
#undef DQK
#undef TG
#undef RB
#undef TINY
#undef TDISPATCH
#endif
