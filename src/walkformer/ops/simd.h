/* What the package's float kernels share (causal_attention.c, token_attention.c): GCC/Clang
   vector types (so the files build without -mavx2 too) and a vector exp for x <= 0. */
#ifndef WALKFORMER_SIMD_H
#define WALKFORMER_SIMD_H
#define _POSIX_C_SOURCE 200112L
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <math.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v4du __attribute__((vector_size(32), aligned(8)));
typedef int64_t v4i __attribute__((vector_size(32)));

/* exp(x) for x <= 0: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite), e^r by a polynomial, 2^k
   through the exponent bits; 0 below the smallest normal result (an exact 0 matters: AdamW
   turns a 1e-300 gradient into a full step, which broke a diverging run), and for x = -inf
   (the masked scores). k is rounded by adding 1.5 2^m (m = mantissa bits) plus the exponent
   bias: the sum's low mantissa bits are then k + bias, and shifting them into the exponent
   field gives 2^k; no float<->int conversion (AVX2 has none for int64, so the float64
   version was scalarised before). float32: degree-6 minimax polynomial for e^r (relative
   error 3e-9; 8e-8 with float32 round-off, as the degree-7 Taylor series it replaced, one
   FMA fewer); float64: degree-13 Taylor series (error < 1e-16).
   vexpJ_*(x) overwrites x[0..J-1] with their exps, the J computations interleaved step by
   step (the same operations, so the same bits, for any J): an exp is a ~15-deep dependency
   chain, and written one after the other consecutive exps did not overlap (this machine's
   Zen core: 22 cycles per vector alone, 18 four at a time; the forward 23 -> 20 ms). */
#define VEXPJ(NM, J, VT, IT, TT, LO, MAG, L2H, L2L, SH, POLY) \
static ALWAYS_INLINE void NM(VT *x) { \
    IT under[J]; VT kb[J], k[J], r[J], p[J]; \
    for (int j = 0; j < J; j++) under[j] = x[j] < (TT)(LO); /* exp(x) < smallest normal: 0 */ \
    for (int j = 0; j < J; j++) kb[j] = x[j] * (TT)1.44269504088896341 + (TT)(MAG); \
    for (int j = 0; j < J; j++) k[j] = kb[j] - (TT)(MAG); \
    for (int j = 0; j < J; j++) r[j] = x[j] - k[j] * (TT)(L2H); \
    for (int j = 0; j < J; j++) r[j] = r[j] - k[j] * (TT)(L2L); \
    POLY(J) \
    for (int j = 0; j < J; j++) x[j] = (VT)(~under[j] & (IT)(p[j] * (VT)((IT)kb[j] << SH))); \
}
#define POLY_F32(J) { \
    static const float c[7] = {1.3814539415761828e-3f, 8.36874544620514e-3f, 4.166838899254799e-2f, \
                               1.666652113199234e-1f, 4.999999403953552e-1f, 1.0f, 1.0f}; \
    for (int j = 0; j < J; j++) p[j] = r[j] * c[0] + c[1]; \
    for (int i = 2; i < 7; i++) for (int j = 0; j < J; j++) p[j] = p[j] * r[j] + c[i]; }
#define POLY_F64(J) { \
    double c = 1.0; for (int i = 2; i <= 13; i++) c /= i;  /* 1/13! */ \
    for (int j = 0; j < J; j++) p[j] = (v4d){0} + c; \
    for (int i = 13; i >= 1; i--) { c *= i; for (int j = 0; j < J; j++) p[j] = p[j] * r[j] + c; } }  /* c = 1/(i-1)! */
/* float32: 1.5 2^23 + 127; float64: 1.5 2^52 + 1023. */
VEXPJ(vexp1_f32, 1, v8f, v8i, float, -87.0, 12582912.0 + 127, 0.693145751953125, 1.428606765330187e-06, 23, POLY_F32)
VEXPJ(vexp4_f32, 4, v8f, v8i, float, -87.0, 12582912.0 + 127, 0.693145751953125, 1.428606765330187e-06, 23, POLY_F32)
VEXPJ(vexp1_f64, 1, v4d, v4i, double, -708.0, 6755399441055744.0 + 1023, 6.93147180369123816490e-01,
      1.90821492927058770002e-10, 52, POLY_F64)
VEXPJ(vexp4_f64, 4, v4d, v4i, double, -708.0, 6755399441055744.0 + 1023, 6.93147180369123816490e-01,
      1.90821492927058770002e-10, 52, POLY_F64)

#endif
