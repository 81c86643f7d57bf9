/* The float64 instance of a kernel body (see simd_f32.h). */
#define T double
#define VT v4d
#define VU v4du
#define IT v4i
#define W 4
#define VEXP1 vexp1_f64
#define VEXP4 vexp4_f64
#define SEXP exp
#define NAME(f) f##_f64
