/* The float32 instance of a kernel body (`#include "simd_f32.h"`, then `#include __FILE__`,
   then `#include "simd_undef.h"`): element, vector and lane types, lanes per vector, the
   vector exps, libm's exp and the exported names' suffix. */
#define T float
#define VT v8f
#define VU v8fu
#define IT v8i
#define W 8
#define VEXP1 vexp1_f32
#define VEXP4 vexp4_f32
#define SEXP expf
#define NAME(f) f##_f32
