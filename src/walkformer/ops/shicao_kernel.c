/* One training step of the Shi & Cao fast path, and the forward of a held-out batch, in
   one call (loaded by shicao_kernel.py; the maths is in shicao.py's ShiCao docstring).

   Sequences go through start to end in groups of four, one per lane of a vector: the
   scatter C[k] = sum_{j: s_j = k} Ep[j] over their positions (the four interleaved), Z, h,
   f, the loss and dL/df, abar, G[k] = (dh[k] - abar) Et[k] / Z, and then, sequence by
   sequence, the gather col[j] += G[s_j] into the column sums shared by the batch. So the
   tokens of a sequence are read while they are in L1, and every lane computes exactly
   what its sequence alone would: nothing depends on the lane or on the rest of the batch.

   Exactness (Theorem 4.1's symmetric point must stay exactly symmetric): every sum is a
   plain left-to-right loop, the same order for every token and every position; built
   without -ffast-math and with -ffp-contract=off, so the compiler neither reorders a sum
   nor fuses a*b+c (the torch path rounds every product). Per-sequence sums (over positions,
   over the K tokens, over the head's rows) are in the model's dtype T, as torch's; sums
   over the sequences of a batch (the column sums, dL/du, dL/dV, the loss) accumulate in
   double, also for float32 (1000 float32 terms added in order would lose ~3 digits). */
#ifndef SC_BODY
#define SC_BODY
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define L 4  /* sequences per group: the lanes of one vector */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4l __attribute__((vector_size(32)));

/* log x of 4 doubles: x = 2^e m with m in [√½, √2), f = m − 1, s = f / (2 + f), and
   log m = f − (f²/2 − s (f²/2 + R)) with R = Σ_{i=1..11} 2 s^{2i} / (2i+1) (the atanh series,
   truncated ~1e-19 below 1 for |s| <= 0.172): the fdlibm scheme, within ~1 ulp. Lanes
   that are not positive normal numbers go to libm's log (NaN, −inf and +inf as torch). */
static inline v4d vlog(v4d x) {
    const v4l bits = (v4l)x;
    if (!((x[0] >= DBL_MIN) & (x[1] >= DBL_MIN) & (x[2] >= DBL_MIN) & (x[3] >= DBL_MIN) &
          (x[0] <= DBL_MAX) & (x[1] <= DBL_MAX) & (x[2] <= DBL_MAX) & (x[3] <= DBL_MAX)))
        return (v4d){log(x[0]), log(x[1]), log(x[2]), log(x[3])};
    v4l e = ((bits >> 52) & 0x7ff) - 1023;
    v4d m = (v4d)((bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);  /* [1, 2) */
    const v4l big = m > 1.4142135623730951;
    m = (v4d)((big & (v4l)(m * 0.5)) | (~big & (v4l)m));
    e -= big;  /* big is -1 where true */
    const v4d f = m - 1.0, s = f / (f + 2.0), z = s * s, hfsq = 0.5 * f * f;
    v4d R = (v4d){0} + 2.0 / 23;
    for (int i = 10; i >= 1; i--) R = R * z + 2.0 / (2 * i + 1);
    R = R * z;
    const v4d dk = __builtin_convertvector(e, v4d);
    return dk * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + dk * 1.90821492927058770002e-10)) - f);
}

/* log of n doubles x into y, four at a time */
static void vlogs(int64_t n, const double *x, double *y) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const v4d r = vlog((v4d){x[i], x[i + 1], x[i + 2], x[i + 3]});
        memcpy(y + i, &r, sizeof r);
    }
    for (; i < n; i++) y[i] = vlog((v4d){0} + x[i])[0];
}

#define T float
#define VT v4f
#define IT v4i
#define NAME(f) f##_f32
#define EXP expf
#define UNDER (FLT_MIN / FLT_EPSILON)
#include __FILE__
#undef T
#undef VT
#undef IT
#undef NAME
#undef EXP
#undef UNDER

#define T double
#define VT v4d
#define IT v4l
#define NAME(f) f##_f64
#define EXP exp
#define UNDER (DBL_MIN / DBL_EPSILON)
#include __FILE__

#else /* the body, once per dtype */

/* Ep[j] = exp(c_j - max c), Et[k] = exp(u_k - m) with m = max(0, max_k u_k), sN = Ep[N-1] exp(-m):
   one shift for every sequence (see ShiCao._separable). */
static void NAME(weights)(int64_t K, int64_t N, const T *ut, const T *c, T *Ep, T *Et, T *sN) {
    T cm = c[0], m = ut[0];
    for (int64_t j = 1; j < N; j++) cm = c[j] > cm ? c[j] : cm;
    for (int64_t j = 0; j < N; j++) Ep[j] = EXP(c[j] - cm);
    for (int64_t k = 1; k < K; k++) m = ut[k] > m ? ut[k] : m;
    m = m > 0 ? m : 0;
    for (int64_t k = 0; k < K; k++) Et[k] = EXP(ut[k] - m);
    *sN = Ep[N - 1] * EXP(-m);
}

/* C[k][l] = Σ_{j: s_lj = k} Ep[j] for the nl <= L sequences at tok (J tokens each), each sum
   in position order; lanes l >= nl repeat the last sequence. The L sequences run
   interleaved: one sequence alone is a chain of read-modify-writes through memory whenever
   a token repeats (~3.5 ns a position here), four chains overlap (~1 ns). */
static inline void NAME(scatter)(int64_t K, int64_t J, int64_t nl, const int32_t *tok, const T *Ep, VT *C) {
    T C0[K], C1[K], C2[K], C3[K];  /* distinct arrays: the compiler need not order their accesses */
    for (int64_t k = 0; k < K; k++) C0[k] = C1[k] = C2[k] = C3[k] = 0;
    const int32_t *s0 = tok, *s1 = tok + J * (nl > 1), *s2 = tok + J * (nl > 2 ? 2 : nl - 1),
                  *s3 = tok + J * (nl > 3 ? 3 : nl - 1);
    for (int64_t j = 0; j < J; j++) {
        const T e = Ep[j];
        C0[s0[j]] += e; C1[s1[j]] += e; C2[s2[j]] += e; C3[s3[j]] += e;
    }
    for (int64_t k = 0; k < K; k++) C[k] = (VT){C0[k], C1[k], C2[k], C3[k]};
}

/* col[j] += G[s_j], j < J: the column sums in sequence order (restrict: vectorised as a gather) */
static inline void NAME(gather_add)(int64_t J, double *restrict col, const T *restrict G, const int32_t *restrict s) {
    for (int64_t j = 0; j < J; j++) col[j] += G[s[j]];
}

static inline VT NAME(relu)(VT x) { return (VT)((IT)(x > 0) & (IT)x); }

/* Softmax and head of L sequences, lane by lane exactly what one sequence alone computes:
   h = C ⊙ Et / Z, S_N = sN / Z, pre = V h (R rows), f = pre (linear) or A relu(pre).
   Returns 1 if Z underflows in one of the first nl lanes. */
static inline int NAME(forward)(int64_t K, int64_t R, int64_t m, int64_t nl, const VT *C, const T *Et, T sN,
                                const T *V, const T *A, VT *h, VT *Z, VT *SN, VT *pre, VT *f) {
    VT z = C[0] * Et[0];
    for (int64_t k = 1; k < K; k++) z += C[k] * Et[k];
    z += sN;
    for (int64_t l = 0; l < nl; l++)
        if (!(z[l] > UNDER)) return 1;
    for (int64_t k = 0; k < K; k++) h[k] = C[k] * Et[k] / z;
    *Z = z;
    *SN = sN / z;
    for (int64_t i = 0; i < R; i++) {
        VT s = V[i * K] * h[0];
        for (int64_t k = 1; k < K; k++) s += V[i * K + k] * h[k];
        pre[i] = s;
    }
    for (int64_t k = 0; k < K; k++) {
        if (!m) { f[k] = pre[k]; continue; }
        VT s = A[k * m] * NAME(relu)(pre[0]);
        for (int64_t i = 1; i < m; i++) s += A[k * m + i] * NAME(relu)(pre[i]);
        f[k] = s;
    }
    return 0;
}

/* The step. Training batch: B sequences tok (B, J) int32, labels y, weights w; writes the
   loss Σ_b w_b (−log(f_{b,y_b} + eps)) and its gradients gV (R, K), gA (K, m), gRk (K,) =
   dL/dũ / n_0, ga (N,) = dL/dc ⊘ n. Probe: Bp sequences ptok; writes h, f (K, Bp) and the
   mean attention by slot att (N,). Either batch may be empty (B = 0 or Bp = 0).
   Returns 0, or 1 if a training sequence underflows, 2 if a probe sequence does (outputs
   then incomplete: the caller takes the torch path, whose direct softmax is exact), 3 if
   out of memory. */
int NAME(sc_step)(int64_t K, int64_t N, int64_t R, int64_t m, const T *ut, const T *c, const T *n,
                  const T *V, const T *A,
                  int64_t B, const int32_t *tok, const int64_t *y, const T *w, double eps,
                  double *loss, T *gV, T *gA, T *gRk, T *ga,
                  int64_t Bp, const int32_t *ptok, T *hp, T *fp, T *att) {
    const int64_t J = N - 1;
    T Ep[N], Et[K], sN, G[L][K];
    VT C[K], h[K], f[K], pre[R], dh[K], dpre[R], hg[K], Z, SN;
    NAME(weights)(K, N, ut, c, Ep, Et, &sN);
    if (B > 0) {
        /* the batch sums, in double, on the heap (R K + K m can be large for the relu head) */
        double *col = calloc(J + K + R * K + K * m, sizeof(double)), lsum = 0, dcN = 0;
        if (!col) return 3;
        double *dut = col + J, *gVa = dut + K, *gAa = gVa + R * K;
        for (int64_t b0 = 0; b0 < B; b0 += L) {
            const int64_t nl = B - b0 < L ? B - b0 : L;
            NAME(scatter)(K, J, nl, tok + b0 * J, Ep, C);
            if (NAME(forward)(K, R, m, nl, C, Et, sN, V, A, h, &Z, &SN, pre, f)) { free(col); return 1; }
            VT gz;
            v4d zy, wl;
            for (int64_t l = 0; l < L; l++) {  /* dL/df_y, sequence by sequence */
                const int64_t b = b0 + (l < nl ? l : nl - 1), yb = y[b];
                const T z = f[yb][l] + (T)eps;
                gz[l] = -w[b] / z;
                zy[l] = z;
                wl[l] = w[b];
            }
            const v4d lw = wl * vlog(zy);  /* the loss, in double */
            for (int64_t l = 0; l < nl; l++) lsum += lw[l];
            if (!m) {
                const T *Vy[L];  /* row y_b of V, per lane */
                for (int64_t l = 0; l < L; l++) Vy[l] = V + y[b0 + (l < nl ? l : nl - 1)] * K;
                for (int64_t k = 0; k < K; k++) {
                    hg[k] = h[k] * gz;
                    dh[k] = (VT){Vy[0][k], Vy[1][k], Vy[2][k], Vy[3][k]} * gz;
                }
                for (int64_t l = 0; l < nl; l++)
                    for (int64_t k = 0; k < K; k++) gVa[y[b0 + l] * K + k] += hg[k][l];
            } else {
                for (int64_t i = 0; i < m; i++)
                    for (int64_t l = 0; l < L; l++) {
                        const int64_t yb = y[b0 + (l < nl ? l : nl - 1)];
                        dpre[i][l] = pre[i][l] > 0 ? A[yb * m + i] * gz[l] : 0;
                    }
                for (int64_t l = 0; l < nl; l++) {
                    const int64_t yb = y[b0 + l];
                    for (int64_t i = 0; i < m; i++) gAa[yb * m + i] += (pre[i][l] > 0 ? pre[i][l] : 0) * gz[l];
                }
                for (int64_t i = 0; i < R * K; i++)
                    for (int64_t l = 0; l < nl; l++) gVa[i] += dpre[i / K][l] * h[i % K][l];
                for (int64_t k = 0; k < K; k++) {
                    VT s = V[k] * dpre[0];
                    for (int64_t i = 1; i < R; i++) s += V[i * K + k] * dpre[i];
                    dh[k] = s;
                }
            }
            VT abar = h[0] * dh[0];
            for (int64_t k = 1; k < K; k++) abar += h[k] * dh[k];
            for (int64_t k = 0; k < K; k++) {
                const VT diff = dh[k] - abar, hd = h[k] * diff, g = diff * (Et[k] / Z);
                for (int64_t l = 0; l < nl; l++) { dut[k] += hd[l]; G[l][k] = g[l]; }
            }
            const VT sa = SN * abar;
            for (int64_t l = 0; l < nl; l++) {
                dcN += sa[l];
                NAME(gather_add)(J, col, G[l], tok + (b0 + l) * J);
            }
        }
        *loss = -lsum;
        for (int64_t i = 0; i < R * K; i++) gV[i] = (T)gVa[i];
        for (int64_t i = 0; m && i < K * m; i++) gA[i] = (T)gAa[i];
        for (int64_t k = 0; k < K; k++) gRk[k] = (T)dut[k] / n[0];
        for (int64_t j = 0; j < J; j++) ga[j] = Ep[j] * (T)col[j] / n[j];
        ga[J] = -(T)dcN / n[J];
        free(col);
    }
    if (Bp > 0) {
        double *col = calloc(J, sizeof(double)), snsum = 0;
        if (!col) return 3;
        for (int64_t b0 = 0; b0 < Bp; b0 += L) {
            const int64_t nl = Bp - b0 < L ? Bp - b0 : L;
            NAME(scatter)(K, J, nl, ptok + b0 * J, Ep, C);
            if (NAME(forward)(K, R, m, nl, C, Et, sN, V, A, h, &Z, &SN, pre, f)) { free(col); return 2; }
            for (int64_t k = 0; k < K; k++) {
                const VT g = Et[k] / Z;
                for (int64_t l = 0; l < nl; l++) {
                    hp[k * Bp + b0 + l] = h[k][l];
                    fp[k * Bp + b0 + l] = f[k][l];
                    G[l][k] = g[l];
                }
            }
            for (int64_t l = 0; l < nl; l++) {
                snsum += SN[l];
                NAME(gather_add)(J, col, G[l], ptok + (b0 + l) * J);
            }
        }
        for (int64_t j = 0; j < J; j++) att[j] = Ep[j] * (T)col[j] / (T)Bp;
        att[J] = (T)snsum / (T)Bp;
        free(col);
    }
    return 0;
}

/* ũ = (W0q_{<K} + qq Rk) / n_0 and c = c0 + a Γ (Γ = gram, (N, N)): ShiCao.scores, each c_j
   summed over i in order. */
void NAME(sc_scores)(int64_t K, int64_t N, const T *W0q, double qq, const T *Rk, const T *n, const T *c0,
                     const T *a, const T *gram, T *ut, T *c) {
    for (int64_t k = 0; k < K; k++) ut[k] = (W0q[k] + (T)qq * Rk[k]) / n[0];
    for (int64_t j = 0; j < N; j++) c[j] = a[0] * gram[j];
    for (int64_t i = 1; i < N; i++)
        for (int64_t j = 0; j < N; j++) c[j] += a[i] * gram[i * N + j];
    for (int64_t j = 0; j < N; j++) c[j] = c0[j] + c[j];
}

/* x -= eta g (the product rounded first, as torch's x -= eta * g), for ShiCao.step */
void NAME(sc_update)(double eta, int64_t n, T *restrict x, const T *restrict g) {
    for (int64_t i = 0; i < n; i++) x[i] -= (T)eta * g[i];
}

/* 1 if every x_i is finite */
int NAME(sc_finite)(int64_t n, const T *x) {
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= isfinite(x[i]) != 0;
    return ok;
}

/* Per-step evaluation of a probe batch (metrics.evaluate): out = [#correct (argmax of f,
   ties to the smallest label), Σ t log q (in (k, b) order), Σ_b log Σ_k q (q = max(f, 0) + eps,
   in double), Σ V², Σ V, ⟨V, Πᵀ⟩ (pi may be NULL), max−min of ũ + max−min of c_{<N},
   var_b h_k (K)]. Returns 1 if out of memory. */
#define QOF(v) ((v) != (v) ? (double)(v) : ((v) > 0 ? (double)(v) : 0.0) + eps)  /* clamp(f, 0) + eps; NaN stays */
int NAME(sc_metrics)(int64_t K, int64_t B, int64_t N, int64_t nV, const T *f, const T *h, const int64_t *y,
                     const double *t, double eps, const T *V, const double *pi, const T *ut, const T *c,
                     double *out) {
    double *buf = malloc(sizeof(double) * (3 * B + 3 * K * B + 1) + sizeof(T) * B), correct = 0, tlq = 0, lsq = 0;
    if (!buf) return 1;
    double *qs = buf, *lqs = qs + B, *best = lqs + B, *tq = best + B, *tw = tq + K * B, *ltq = tw + K * B;
    T *bestv = (T *)(ltq + K * B + 1);
    int64_t nt = 0;
    /* argmax and Σ_k q, token by token across sequences (branch-free, vectorised); the
       first maximum wins ties, a NaN wins over numbers (as torch's max) */
    for (int64_t b = 0; b < B; b++) {
        best[b] = 0;
        bestv[b] = f[b];
        qs[b] = QOF(f[b]);
    }
    for (int64_t k = 1; k < K; k++) {
        const T *fk = f + k * B;
        for (int64_t b = 0; b < B; b++) {
            const T v = fk[b], vb = bestv[b];
            const int up = (v > vb) | ((v != v) & (vb == vb));
            best[b] = up ? (double)k : best[b];
            bestv[b] = up ? v : vb;
            qs[b] += QOF(v);
        }
    }
    for (int64_t b = 0; b < B; b++) correct += best[b] == (double)y[b];
    for (int64_t k = 0; t && k < K; k++)  /* the q whose t is not 0, in (k, b) order (branch-free) */
        for (int64_t b = 0; b < B; b++) {
            tq[nt] = QOF(f[k * B + b]);
            tw[nt] = t[k * B + b];
            nt += t[k * B + b] != 0;
        }
    vlogs(B, qs, lqs);
    vlogs(nt, tq, ltq);
    for (int64_t b = 0; b < B; b++) lsq += lqs[b];
    for (int64_t i = 0; i < nt; i++) tlq += tw[i] * ltq[i];
    free(buf);
    double vv = 0, vs = 0, vp = 0;
    for (int64_t i = 0; i < nV; i++) {
        vv += (double)V[i] * V[i];
        vs += V[i];
        if (pi) vp += (double)V[i] * pi[i];
    }
    T lo = ut[0], hi = ut[0];  /* the spread in T, as torch's */
    for (int64_t k = 1; k < K; k++) {  /* a NaN stays (as torch's aminmax) */
        lo = ut[k] < lo || ut[k] != ut[k] ? ut[k] : lo;
        hi = ut[k] > hi || ut[k] != ut[k] ? ut[k] : hi;
    }
    T spread = hi - lo;
    if (N > 1) {
        lo = hi = c[0];
        for (int64_t j = 1; j < N - 1; j++) {
            lo = c[j] < lo || c[j] != c[j] ? c[j] : lo;
            hi = c[j] > hi || c[j] != c[j] ? c[j] : hi;
        }
        spread = spread + (hi - lo);
    }
    out[0] = correct; out[1] = tlq; out[2] = lsq; out[3] = vv; out[4] = vs; out[5] = vp; out[6] = spread;
    for (int64_t k = 0; k < K; k++) {  /* var_b h_kb: two passes, four partial sums each */
        const T *x = h + k * B;
        v4d acc = {0};
        int64_t b = 0;
        for (; b + 4 <= B; b += 4) acc += (v4d){x[b], x[b + 1], x[b + 2], x[b + 3]};
        double mean = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        for (; b < B; b++) mean += x[b];
        mean /= B;
        acc = (v4d){0};
        for (b = 0; b + 4 <= B; b += 4) {
            const v4d d = (v4d){x[b], x[b + 1], x[b + 2], x[b + 3]} - mean;
            acc += d * d;
        }
        double var = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        for (; b < B; b++) var += (x[b] - mean) * (x[b] - mean);
        out[7 + k] = var / B;
    }
    return 0;
}
#undef QOF

#endif
