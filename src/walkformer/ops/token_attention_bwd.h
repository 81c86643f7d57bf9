/* The backward of token_attention.c (included in its body, once per dtype: T, VT, W, NAME
   and the helpers come from there). Kept apart only to keep files short. */

/* One sequence's rows n0..n0+G-1 (G = TG, all fast rows), backward: p from the tile,
   dp_r = <dO_r, v>, ds_r = p_r (dp_r - D_r) summed into DS^{a_r 0}, DS^{a_r 1} by key token;
   then, in a second pass over p (pbuf, TG rows interleaved), dv += p_r dO_r. Each load of v
   and read-modify-write of dv serves the G rows; two passes keep fewer vectors live than
   one (20.6 -> 18.8 ms for the backward at the papers' setting). */
#define TG 4
_Static_assert(W % TG == 0 && RB % TG == 0, "a group of rows must end in its first row's last vector, inside a tile");
static ALWAYS_INLINE void NAME(bwd_group)(int64_t n0, int64_t r0, int64_t Np, const int dh, const int SH,
                                          const T *restrict E,
                                          const T *restrict vb, const IT *restrict xb, const int32_t *restrict xs,
                                          const T *restrict R, const T *restrict o, const T *restrict dO,
                                          T *restrict DS, T *restrict dvb, T *restrict pbuf) {
    const int64_t nt = (n0 + W) / W;
    VT ob[TG * 64], c0[TG], c1[TG];
    T D[TG];
    const T *Ea[TG];
    T *dsa[TG];
    for (int g = 0; g < TG; g++) {
        const int64_t n = n0 + g;
        const int a = xs[n] != 0;
        const T *Rn = R + n * 4;
        D[g] = 0;
        for (int c = 0; c < dh; c++) { D[g] += dO[n * dh + c] * o[n * dh + c]; ob[g * dh + c] = (VT){0} + dO[n * dh + c]; }
        c0[g] = (VT){0} + Rn[0] * Rn[2];  /* p = c E / sum e */
        c1[g] = (VT){0} + Rn[1] * Rn[2];
        Ea[g] = E + ((r0 + g) * 4 + 2 * a) * Np;
        dsa[g] = DS + ((r0 + g) * 4 + 2 * a) * Np;
    }
    for (int64_t t = 0; t < nt; t++) {
        const IT m = xb[t];
        VT vc[64], p[TG], dp[TG];
        for (int c = 0; c < dh; c++) vc[c] = *(const VU *)(vb + c * Np + t * W);
        for (int g = 0; g < TG; g++) {
            p[g] = SH ? *(const VU *)(Ea[g] + t * W) * NAME(blend)(m, c1[g], c0[g])
                      : NAME(blend)(m, c1[g] * *(const VU *)(Ea[g] + Np + t * W), c0[g] * *(const VU *)(Ea[g] + t * W));
            dp[g] = ob[g * dh] * vc[0];
        }
        for (int c = 1; c < dh; c++)
            for (int g = 0; g < TG; g++) dp[g] += ob[g * dh + c] * vc[c];
        for (int g = 0; g < TG; g++) {
            const VT ds = p[g] * (dp[g] - D[g]);
            *(VU *)(dsa[g] + t * W) += (VT)(~m & (IT)ds);
            *(VU *)(dsa[g] + Np + t * W) += (VT)(m & (IT)ds);
            *(VU *)(pbuf + g * W + t * TG * W) = p[g];
        }
    }
    for (int64_t t = 0; t < nt; t++)  /* dv in its own pass over p: fewer live vectors per pass */
        for (int c = 0; c < dh; c++) {
            VT d = *(VU *)(dvb + c * Np + t * W);
            for (int g = 0; g < TG; g++) d += ob[g * dh + c] * *(const VU *)(pbuf + g * W + t * TG * W);
            *(VU *)(dvb + c * Np + t * W) = d;
        }
}

/* The same for one row, any kind (fast or exact), through ebuf. */
static ALWAYS_INLINE void NAME(bwd_one)(int64_t n, int64_t r, int64_t N, int64_t Np, const int dh, const int SH,
                                        T scale,
                                        const T *restrict Qh, const T *restrict Kt, const T *restrict E,
                                        const T *restrict vb, const IT *restrict xb, const int32_t *restrict xs,
                                        const T *restrict R, const T *restrict o, const T *restrict dO,
                                        T *restrict DS, T *restrict dvb, T *restrict ebuf) {
    const int64_t nt = (n + W) / W;
    const int a = xs[n] != 0;
    const T *Rn = R + n * 4, *dOn = dO + n * dh, *on = o + n * dh;
    NAME(row_e)(Rn[3] != 0, n, Np, dh, scale, Qh + (a * N + n) * dh, Kt, E + (r * 4 + 2 * a) * Np, SH ? 0 : Np, Rn,
                xb, ebuf);
    T D = 0;
    VT ob[64];
    for (int c = 0; c < dh; c++) { D += dOn[c] * on[c]; ob[c] = (VT){0} + dOn[c]; }
    const VT inv = (VT){0} + Rn[2];
    T *ds0 = DS + (r * 4 + 2 * a) * Np, *ds1 = ds0 + Np;
    for (int64_t t = 0; t < nt; t++) {
        const VT p = *(const VU *)(ebuf + t * W) * inv;
        VT dp = (VT){0};
        for (int c = 0; c < dh; c++) dp += ob[c] * *(const VU *)(vb + c * Np + t * W);
        const VT ds = p * (dp - D);
        *(VU *)(ds0 + t * W) += (VT)(~xb[t] & (IT)ds);
        *(VU *)(ds1 + t * W) += (VT)(xb[t] & (IT)ds);
        for (int c = 0; c < dh; c++) *(VU *)(dvb + c * Np + t * W) += ob[c] * p;
    }
}

static ALWAYS_INLINE void NAME(bwd_seq)(int64_t n0, int64_t n1, int64_t N, int64_t Np, const int dh, const int SH,
                                        T scale,
                                        const T *restrict Qh, const T *restrict Kt, const T *restrict E,
                                        const T *restrict vb, const IT *restrict xb, const int32_t *restrict xs,
                                        const T *restrict R, const T *restrict o, const T *restrict dO,
                                        T *restrict DS, T *restrict dvb, T *restrict ebuf) {
    int64_t n = n0;
    for (; n + TG <= n1; n += TG) {
        int fast = 1;
        for (int g = 0; g < TG; g++) fast &= R[(n + g) * 4 + 3] == 0;
        if (fast) NAME(bwd_group)(n, n - n0, Np, dh, SH, E, vb, xb, xs, R, o, dO, DS, dvb, ebuf);
        else
            for (int g = 0; g < TG; g++)
                NAME(bwd_one)(n + g, n + g - n0, N, Np, dh, SH, scale, Qh, Kt, E, vb, xb, xs, R, o, dO, DS, dvb, ebuf);
    }
    for (; n < n1; n++) NAME(bwd_one)(n, n - n0, N, Np, dh, SH, scale, Qh, Kt, E, vb, xb, xs, R, o, dO, DS, dvb, ebuf);
}

/* The tile's DS (summed over the sequences) -> dK columns: dK^b_i += sum_{a, n} DS^{ab}_{n,i}
   Q^a_n scale, the tile's 2 (n1 - n0) (row, a) pairs TG at a time per read-modify-write of
   dK; and dQ rows: dQ^a_n = scale sum_b sum_i DS^{ab}_{n,i} K^b_i. */
static ALWAYS_INLINE void NAME(tile_dqk)(int64_t n0, int64_t n1, int64_t N, int64_t Np, const int dh, T scale,
                                         const T *restrict Qh, const T *restrict Kt, const T *restrict DS,
                                         T *restrict dQh, T *restrict dKt) {
    const int64_t nt = (n1 - 1 + W) / W;  /* rows past a row's end are 0 in DS (never written) */
    for (int bk = 0; bk < 2; bk++) {
        T *dkt = dKt + bk * dh * Np;
        for (int64_t r0 = 0; r0 < 2 * (n1 - n0); r0 += TG) {  /* pair j = (row n0 + j/2, a = j%2) */
            const int G = 2 * (n1 - n0) - r0 < TG ? (int)(2 * (n1 - n0) - r0) : TG;
            VT qb[TG * 64];
            const T *ds[TG];
            for (int g = 0; g < TG; g++) {
                const int64_t j = r0 + (g < G ? g : 0), n = n0 + j / 2;
                const int a = j % 2;
                for (int c = 0; c < dh; c++) qb[g * dh + c] = (VT){0} + (g < G ? Qh[(a * N + n) * dh + c] * scale : 0);
                ds[g] = DS + ((j / 2) * 4 + 2 * a + bk) * Np;
            }
            const int64_t ntg = (n0 + (r0 + G - 1) / 2 + W) / W;
            for (int64_t t = 0; t < ntg && t < nt; t++) {
                VT d[TG];
                for (int g = 0; g < TG; g++) d[g] = *(const VU *)(ds[g] + t * W);
                for (int c = 0; c < dh; c++) {
                    VT k = *(VU *)(dkt + c * Np + t * W);
                    for (int g = 0; g < TG; g++) k += qb[g * dh + c] * d[g];
                    *(VU *)(dkt + c * Np + t * W) = k;
                }
            }
        }
    }
    for (int64_t n = n0; n < n1; n++) {
        const int64_t r = n - n0, ntn = (n + W) / W;
        for (int a = 0; a < 2; a++) {
            VT acc[64];
            for (int c = 0; c < dh; c++) acc[c] = (VT){0};
            for (int bk = 0; bk < 2; bk++) {
                const T *ds = DS + (r * 4 + 2 * a + bk) * Np, *kt = Kt + bk * dh * Np;
                for (int64_t t = 0; t < ntn; t++) {
                    const VT d = *(const VU *)(ds + t * W);
                    for (int c = 0; c < dh; c++) acc[c] += d * *(const VU *)(kt + c * Np + t * W);
                }
            }
            for (int c = 0; c < dh; c++) dQh[(a * N + n) * dh + c] = NAME(hsum)(acc[c]) * scale;
        }
    }
}

/* Gradients of <dO, o>: dQ, dK, dV (H, 2, N, dh) (summed over the sequences by token); the
   rest as tok_fwd saved it. */
static int NAME(tok_bwd1)(int64_t B, int64_t H, int64_t N, int64_t dh, T scale, const T *Q, const T *K,
                          const T *V, const T *kd, const int32_t *x, const T *o, const T *R, const T *Eall, const T *dO, T *dQ,
                          T *dK, T *dV) {
    if (dh > 64) return 1;
    const int64_t Np = NAME(row_stride)(N), nv = Np / W;
    int64_t *first = malloc(sizeof(int64_t) * 2 * B);
    IT *xm = first ? NAME(masks)(B, N, Np, x, first) : NULL;
    T *buf = xm ? NAME(talloc)(4 * dh * Np + 2 * B * dh * Np + 2 * RB * 4 * Np + RB * 4 + TG * Np) : NULL;
    if (!buf) { free(first); free(xm); return 2; }
    T *Kt = buf, *dKt = Kt + 2 * dh * Np, *vt = dKt + 2 * dh * Np, *dvt = vt + B * dh * Np;
    T *E = dvt + B * dh * Np, *DS = E + RB * 4 * Np, *M = DS + RB * 4 * Np, *ebuf = M + RB * 4;
    for (int64_t h = 0; h < H; h++) {
        const T *Qh = Q + h * 2 * N * dh;
        T *dQh = dQ + h * 2 * N * dh;
        for (int a = 0; a < 2; a++) NAME(transpose)(N, Np, dh, K + (h * 2 + a) * N * dh, Kt + a * dh * Np);
        for (int64_t b = 0; b < B; b++) NAME(gather_t)(N, Np, dh, V + h * 2 * N * dh, x + b * N, vt + b * dh * Np);
        memset(dKt, 0, sizeof(T) * 2 * dh * Np);
        memset(dvt, 0, sizeof(T) * B * dh * Np);
        for (int64_t n0 = 0; n0 < N; n0 += RB) {
            const int64_t n1 = n0 + RB < N ? n0 + RB : N, used = (n1 - 1 + W) / W * W;
            const T *Et = E;
            if (Eall) Et = Eall + (h * N + n0) * 4 * Np;  /* the forward's tile */
            else NAME(tile)(n0, n1, N, Np, dh, scale, Qh, Kt, kd ? kd + h * dh : NULL, E, M);
            for (int64_t j = 0; j < (n1 - n0) * 4; j++) memset(DS + j * Np, 0, sizeof(T) * used);
            for (int64_t b = 0; b < B; b++) {
                const int64_t off = (b * H + h) * N;
#define BWDS(DH) { if (kd) BWDS2(DH, 1); else BWDS2(DH, 0); }
#define BWDS2(DH, SH) NAME(bwd_seq)(n0, n1, N, Np, DH, SH, scale, Qh, Kt, Et, vt + b * dh * Np, xm + b * nv, x + b * N, \
                               R + off * 4, o + off * dh, dO + off * dh, DS, dvt + b * dh * Np, ebuf)
                TDISPATCH(BWDS)
            }
#define DQK(DH) NAME(tile_dqk)(n0, n1, N, Np, DH, scale, Qh, Kt, DS, dQh, dKt)
            TDISPATCH(DQK)
        }
        for (int a = 0; a < 2; a++)
            for (int64_t i = 0; i < N; i++)
                for (int c = 0; c < dh; c++) dK[((h * 2 + a) * N + i) * dh + c] = dKt[(a * dh + c) * Np + i];
        T *dVh = dV + h * 2 * N * dh;  /* dV^a_i = sum over the sequences with x_i = a of dv_i */
        memset(dVh, 0, sizeof(T) * 2 * N * dh);
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < N; i++) {
                T *dst = dVh + ((x[b * N + i] != 0) * N + i) * dh;
                for (int c = 0; c < dh; c++) dst[c] += dvt[(b * dh + c) * Np + i];
            }
    }
    free(first); free(xm); free(buf);
    return 0;
}
