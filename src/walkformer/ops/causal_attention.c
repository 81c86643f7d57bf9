/* Exact causal softmax attention on the CPU, forward and backward, in groups of 4 query rows
   (loaded by causal_attention.py, which documents the maths; compiled once per machine).

   For query n only the keys i <= n are touched (no masked upper triangle), the scores,
   the softmax and o_n = sum_i p_i v_i stay in L1, and keys/values are transposed per
   sequence into (dh, Np) rows so that every inner loop runs over 8 keys (4 in float64)
   per vector. Np pads each row by one cache line: power-of-two row strides made the
   rows collide in the same cache sets (a 13x slower backward at N = 1024).
   Vectors are GCC/Clang vector extensions, so the file builds without -mavx2 too; the
   arithmetic order is fixed (no -ffast-math), so results are deterministic for a build. */
#ifndef ATTN_BODY
#define ATTN_BODY
#include "simd.h"

#include "simd_f32.h"
#include __FILE__
#include "simd_undef.h"
#include "simd_f64.h"
#include __FILE__

#else  /* the body, once per dtype */

#include "simd_dtype.h"  /* row_stride (also of P), alloc, hsum, hmax, lanes */

/* The second half of a forward row: p holds the row's nt vectors of scores (-inf past the
   row's last key) with maximum m; e_i = exp(s_i - m) overwrites them (0 where s_i = -inf),
   1/sum e goes to p's last slot, o_n = sum_i e_i v_i / sum e. */
static ALWAYS_INLINE void NAME(fwd_exp_pv)(int64_t nt, int64_t Np, const int dh, const T m, const T *restrict vt,
                                           T *restrict on, T *restrict p) {
    VT l = (VT){0}, acc[64];
    for (int c = 0; c < dh; c++) acc[c] = (VT){0};
    for (int64_t t = 0; t < nt; t++) {
        VT e = *(VU *)(p + t * W) - m;
        VEXP1(&e);
        *(VU *)(p + t * W) = e;
        l += e;
        for (int c = 0; c < dh; c++) acc[c] += e * *(const VU *)(vt + c * Np + t * W);
    }
    const T inv = 1 / NAME(hsum)(l);
    p[Np - 1] = inv;
    for (int c = 0; c < dh; c++) on[c] = NAME(hsum)(acc[c]) * inv;
}

/* Row n of sequence b: scores s_i = scale <q_n, k_i>, i <= n; e_i = exp(s_i - max s) into
   P's row (zeros to the end of the last vector) and 1/sum e in its last slot (p = e/sum e);
   o_n = sum_i p_i v_i. kt, vt: (dh, Np). */
static ALWAYS_INLINE void NAME(fwd_row)(
        int64_t n, int64_t Np, const int dh, T scale, const T *restrict qn, const T *restrict kt,
        const T *restrict vt, T *restrict on, T *restrict p) {
    const int64_t len = n + 1, nt = (len + W - 1) / W;
    T qs[64];
    for (int c = 0; c < dh; c++) qs[c] = qn[c] * scale;
    const VT lane = NAME(lanes)();
    VT mx = (VT){0} - INFINITY;
    for (int64_t t = 0; t < nt; t++) {
        VT s = qs[0] * *(const VU *)(kt + t * W), s2 = (VT){0};  /* two chains: FMA latency */
        for (int c = 1; c + 1 < dh; c += 2) {
            s += qs[c] * *(const VU *)(kt + c * Np + t * W);
            s2 += qs[c + 1] * *(const VU *)(kt + (c + 1) * Np + t * W);
        }
        if (dh % 2 == 0) s += qs[dh - 1] * *(const VU *)(kt + (dh - 1) * Np + t * W);
        s += s2;
        IT ok = (lane + (T)(t * W)) < (T)len;
        s = (VT)((ok & (IT)s) | (~ok & (IT)((VT){0} - INFINITY)));
        *(VU *)(p + t * W) = s;
        mx = (VT)(((s > mx) & (IT)s) | (~(s > mx) & (IT)mx));
    }
    NAME(fwd_exp_pv)(nt, Np, dh, NAME(hmax)(mx), vt, on, p);
}

#define ROWS 4
_Static_assert(W % ROWS == 0, "a group of rows must not reach past its first row's last vector");
_Static_assert(ROWS == 4, "the forward takes the group's exps four at a time (VEXP4)");
/* Rows n0..n0+R-1 (R = ROWS) at once: each vector of transposed keys is loaded once for the
   R rows' scores (q_r[c] as broadcast vectors qb, FMAs with a memory operand); then the R
   rows' exps, interleaved (VEXP4), and each row's o as in fwd_exp_pv. As R divides W, the R
   rows end in the same vector nt - 1, the only one that needs the causal mask. p: R rows of
   stride Np. */
static ALWAYS_INLINE void NAME(fwd_rows)(
        int64_t n0, int64_t Np, const int dh, T scale, const T *restrict q, const T *restrict kt,
        const T *restrict vt, T *restrict o, T *restrict p) {
    const int64_t nt = (n0 + ROWS - 1 + W) / W;
    VT qb[ROWS * 64], mx[ROWS];
    for (int r = 0; r < ROWS; r++) {
        for (int c = 0; c < dh; c++) qb[r * dh + c] = (VT){0} + q[r * dh + c] * scale;
        mx[r] = (VT){0} - INFINITY;
    }
    const VT lane = NAME(lanes)();
    for (int64_t t = 0; t < nt; t++) {
        VT kc[64];
        for (int c = 0; c < dh; c++) kc[c] = *(const VU *)(kt + c * Np + t * W);
        VT sr[ROWS];  /* the R rows' chains interleaved */
        for (int r = 0; r < ROWS; r++) sr[r] = qb[r * dh] * kc[0];
        for (int c = 1; c < dh; c++)
            for (int r = 0; r < ROWS; r++) sr[r] += qb[r * dh + c] * kc[c];
        for (int r = 0; r < ROWS; r++) {
            VT s = sr[r];
            if (t == nt - 1) {
                IT ok = (lane + (T)(t * W)) < (T)(n0 + r + 1);
                s = (VT)((ok & (IT)s) | (~ok & (IT)((VT){0} - INFINITY)));
            }
            *(VU *)(p + r * Np + t * W) = s;
            mx[r] = (VT)(((s > mx[r]) & (IT)s) | (~(s > mx[r]) & (IT)mx[r]));
        }
    }
    T m[ROWS];
    VT l[ROWS];
    for (int r = 0; r < ROWS; r++) { m[r] = NAME(hmax)(mx[r]); l[r] = (VT){0}; }
    for (int64_t t = 0; t < nt; t++) {  /* e = exp(s - m), the R rows' exps interleaved */
        VT e[ROWS];
        for (int r = 0; r < ROWS; r++) e[r] = *(VU *)(p + r * Np + t * W) - m[r];
        VEXP4(e);
        for (int r = 0; r < ROWS; r++) { *(VU *)(p + r * Np + t * W) = e[r]; l[r] += e[r]; }
    }
    for (int r = 0; r < ROWS; r++) {  /* o_r = sum_i e_i v_i / sum e; P's last slot 1/sum e */
        VT acc[64];
        for (int c = 0; c < dh; c++) acc[c] = (VT){0};
        for (int64_t t = 0; t < nt; t++) {
            const VT e = *(const VU *)(p + r * Np + t * W);
            for (int c = 0; c < dh; c++) acc[c] += e * *(const VU *)(vt + c * Np + t * W);
        }
        const T inv = 1 / NAME(hsum)(l[r]);
        p[r * Np + Np - 1] = inv;
        for (int c = 0; c < dh; c++) o[r * dh + c] = NAME(hsum)(acc[c]) * inv;
    }
}

/* Row n's share of the gradients: dp_i = <dO_n, v_i>, ds_i = p_i (dp_i - <dO_n, o_n>),
   dq_n = scale sum_i ds_i k_i, dk_i += scale ds_i q_n, dv_i += p_i dO_n. */
static ALWAYS_INLINE void NAME(bwd_row)(
        int64_t n, int64_t Np, const int dh, T scale, const T *restrict qn, const T *restrict kt,
        const T *restrict vt, const T *restrict on, const T *restrict p, const T *restrict dOn,
        T *restrict dqn, T *restrict dkt, T *restrict dvt) {
    const int64_t nt = (n + W) / W;
    T D = 0, qs[64];
    for (int c = 0; c < dh; c++) { D += dOn[c] * on[c]; qs[c] = qn[c] * scale; }
    VT acc[64];
    for (int c = 0; c < dh; c++) acc[c] = (VT){0};
    for (int64_t t = 0; t < nt; t++) {
        const VT pt = *(const VU *)(p + t * W) * p[Np - 1];
        VT dp = dOn[0] * *(const VU *)(vt + t * W), dp2 = (VT){0};
        for (int c = 1; c + 1 < dh; c += 2) {
            dp += dOn[c] * *(const VU *)(vt + c * Np + t * W);
            dp2 += dOn[c + 1] * *(const VU *)(vt + (c + 1) * Np + t * W);
        }
        if (dh % 2 == 0) dp += dOn[dh - 1] * *(const VU *)(vt + (dh - 1) * Np + t * W);
        dp += dp2;
        const VT ds = pt * (dp - D);
        for (int c = 0; c < dh; c++) {
            acc[c] += ds * *(const VU *)(kt + c * Np + t * W);
            *(VU *)(dkt + c * Np + t * W) += qs[c] * ds;
            *(VU *)(dvt + c * Np + t * W) += dOn[c] * pt;
        }
    }
    for (int c = 0; c < dh; c++) dqn[c] = NAME(hsum)(acc[c]) * scale;
}

/* Rows n0..n0+R-1 of one sequence at once (R = BR = W, a vector's worth: 8 in float32): the
   same sums as bwd_row, but each load and store of dk, dv serves R rows (one read-modify-
   write per R rows: those were ~60% of the backward row by row; R = 8 rather than 4 took
   the float32 backward from 24.2 to 23.7 ms at N = 1024, the same bits there; at other N,
   round-off: the rows past the last whole group go row by row). The row vectors q_r[c],
   dO_r[c] are kept as broadcast vectors (qb, ob) so the updates are FMAs with a memory
   operand. P's rows are read up to the group's last key n0 + R - 1: as R divides W and n0
   is a multiple of R, that key is in the vector holding row n0's last key, which the
   forward filled to its end (e = 0 past the row's own last key), so nothing unwritten is
   read and p = ds = 0 there.
   ds goes to DS (R, Np) for dq = scale sum_i ds_i k_i. */
#define BR W  /* rows per backward group: a whole vector (8 in float32, 4 in float64) */
static ALWAYS_INLINE void NAME(bwd_rows)(
        int64_t n0, int64_t Np, const int dh, T scale, const T *restrict q, const T *restrict kt,
        const T *restrict vt, const T *restrict o, const T *restrict P, const T *restrict dO,
        T *restrict dq, T *restrict dkt, T *restrict dvt, T *restrict DS) {
    const int64_t nt = (n0 + BR - 1 + W) / W;  /* vectors up to the group's last key */
    T D[BR], inv[BR];
    VT qb[BR * 64], ob[BR * 64];
    for (int r = 0; r < BR; r++) {
        D[r] = 0;
        for (int c = 0; c < dh; c++) {
            D[r] += dO[r * dh + c] * o[r * dh + c];
            qb[r * dh + c] = (VT){0} + q[r * dh + c] * scale;
            ob[r * dh + c] = (VT){0} + dO[r * dh + c];
        }
        inv[r] = P[r * Np + Np - 1];
    }
    for (int64_t t = 0; t < nt; t++) {
        VT ds[BR], pt[BR], vc[64];
        for (int c = 0; c < dh; c++) vc[c] = *(const VU *)(vt + c * Np + t * W);
        VT dp[BR];  /* dp_r = <dO_r, v>, the R rows' chains interleaved */
        for (int r = 0; r < BR; r++) dp[r] = ob[r * dh] * vc[0];
        for (int c = 1; c < dh; c++)
            for (int r = 0; r < BR; r++) dp[r] += ob[r * dh + c] * vc[c];
        for (int r = 0; r < BR; r++) {
            pt[r] = *(const VU *)(P + r * Np + t * W) * inv[r];
            ds[r] = pt[r] * (dp[r] - D[r]);
            *(VU *)(DS + r * Np + t * W) = ds[r];
        }
        for (int c = 0; c < dh; c++) {
            VT a = *(VU *)(dkt + c * Np + t * W), e = *(VU *)(dvt + c * Np + t * W);
            for (int r = 0; r < BR; r++) {
                a += qb[r * dh + c] * ds[r];
                e += ob[r * dh + c] * pt[r];
            }
            *(VU *)(dkt + c * Np + t * W) = a;
            *(VU *)(dvt + c * Np + t * W) = e;
        }
    }
    for (int r = 0; r < BR; r++) {
        VT acc[64];
        for (int c = 0; c < dh; c++) acc[c] = (VT){0};
        for (int64_t t = 0; t < nt; t++) {
            const VT d = *(const VU *)(DS + r * Np + t * W);
            for (int c = 0; c < dh; c++) acc[c] += d * *(const VU *)(kt + c * Np + t * W);
        }
        for (int c = 0; c < dh; c++) dq[r * dh + c] = NAME(hsum)(acc[c]) * scale;
    }
}

#define DISPATCH(CALL) switch (dh) { case 8: CALL(8); break; case 4: CALL(4); break; \
    case 16: CALL(16); break; case 2: CALL(2); break; case 1: CALL(1); break; default: CALL(dh); }

/* Sequence b's keys and values transposed into kv (2, dh, Np), zero-padded. */
static void NAME(load_kv)(int64_t N, int64_t Np, int64_t dh, const T *k, const T *v, T *kv) {
    memset(kv, 0, sizeof(T) * 2 * dh * Np);
    for (int64_t i = 0; i < N; i++)
        for (int64_t c = 0; c < dh; c++) {
            kv[c * Np + i] = k[i * dh + c];
            kv[(dh + c) * Np + i] = v[i * dh + c];
        }
}

/* q, k, v, o: (BH, N, dh) contiguous; P: (BH, N, Np) with Np = row_stride(N), or NULL
   (no gradient wanted). Returns 0; 1 if dh > 64, 2 if out of memory. */
int NAME(attn_fwd)(int64_t BH, int64_t N, int64_t dh, T scale, const T *q, const T *k, const T *v,
                   T *o, T *P) {
    const int64_t Np = NAME(row_stride)(N);
    if (dh > 64) return 1;
    T *kv = NAME(alloc)(2 * dh * Np + ROWS * Np);
    if (!kv) return 2;
    T *tmp = kv + 2 * dh * Np;
    for (int64_t b = 0; b < BH; b++) {
        NAME(load_kv)(N, Np, dh, k + b * N * dh, v + b * N * dh, kv);
        int64_t n = 0;
        for (; n + ROWS <= N; n += ROWS) {
            T *p = P ? P + (b * N + n) * Np : tmp;
#define FWDR(DH) NAME(fwd_rows)(n, Np, DH, scale, q + (b * N + n) * dh, kv, kv + dh * Np, o + (b * N + n) * dh, p)
            DISPATCH(FWDR)
        }
        for (; n < N; n++) {
            T *p = P ? P + (b * N + n) * Np : tmp;
#define FWD(DH) NAME(fwd_row)(n, Np, DH, scale, q + (b * N + n) * dh, kv, kv + dh * Np, o + (b * N + n) * dh, p)
            DISPATCH(FWD)
        }
    }
    free(kv);
    return 0;
}

/* Gradients dq, dk, dv (BH, N, dh) of <dO, o>, with P as saved by attn_fwd. */
int NAME(attn_bwd)(int64_t BH, int64_t N, int64_t dh, T scale, const T *q, const T *k, const T *v,
                   const T *o, const T *P, const T *dO, T *dq, T *dk, T *dv) {
    const int64_t Np = NAME(row_stride)(N);
    if (dh > 64) return 1;
    /* one block: kv (2, dh, Np), then dkv (2, dh, Np) one cache line further (no 4K aliasing) */
    T *kv = NAME(alloc)(4 * dh * Np + 64 / sizeof(T) + BR * Np);
    if (!kv) return 2;
    T *dkv = kv + 2 * dh * Np + 64 / sizeof(T), *DS = dkv + 2 * dh * Np;
    for (int64_t b = 0; b < BH; b++) {
        NAME(load_kv)(N, Np, dh, k + b * N * dh, v + b * N * dh, kv);
        memset(dkv, 0, sizeof(T) * 2 * dh * Np);
        int64_t n = 0;
        for (; n + BR <= N; n += BR) {
            const int64_t r = (b * N + n) * dh;
#define BWDR(DH) NAME(bwd_rows)(n, Np, DH, scale, q + r, kv, kv + dh * Np, o + r, P + (b * N + n) * Np, \
                                dO + r, dq + r, dkv, dkv + dh * Np, DS)
            DISPATCH(BWDR)
        }
        for (; n < N; n++) {
            const int64_t r = (b * N + n) * dh;
#define BWD(DH) NAME(bwd_row)(n, Np, DH, scale, q + r, kv, kv + dh * Np, o + r, P + (b * N + n) * Np, \
                              dO + r, dq + r, dkv, dkv + dh * Np)
            DISPATCH(BWD)
        }
        for (int64_t i = 0; i < N; i++)
            for (int64_t c = 0; c < dh; c++) {
                dk[(b * N + i) * dh + c] = dkv[c * Np + i];
                dv[(b * N + i) * dh + c] = dkv[(dh + c) * Np + i];
            }
    }
    free(kv);
    return 0;
}
#undef FWD
#undef BWD
#undef BWDR
#undef FWDR
#undef ROWS
#undef BR
#undef DISPATCH
#endif
