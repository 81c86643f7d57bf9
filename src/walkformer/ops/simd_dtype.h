/* Per-dtype helpers of the package's float kernels (causal_attention.c, token_attention.c):
   included in each file's body, once per dtype (T, VT, IT, W and NAME come from there). */

/* Row stride of the transposed (dh, Np) rows: N rounded up to whole vectors, plus one
   cache line, so that consecutive rows do not share cache sets. */
int64_t NAME(row_stride)(int64_t N) { return (N + W - 1) / W * W + 64 / sizeof(T); }

static T *NAME(alloc)(int64_t n) {  /* 64-byte aligned, uninitialised */
    void *p = NULL;
    return posix_memalign(&p, 64, sizeof(T) * n) ? NULL : (T *)p;
}

static inline T NAME(hsum)(VT a) { T s = 0; for (int j = 0; j < W; j++) s += a[j]; return s; }
static inline T NAME(hmax)(VT a) { T s = a[0]; for (int j = 1; j < W; j++) s = a[j] > s ? a[j] : s; return s; }
static inline VT NAME(lanes)(void) { VT l; for (int j = 0; j < W; j++) l[j] = j; return l; }
