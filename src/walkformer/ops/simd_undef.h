/* Ends a dtype instance (simd_f32.h, simd_f64.h). */
#undef T
#undef VT
#undef VU
#undef IT
#undef W
#undef VEXP1
#undef VEXP4
#undef SEXP
#undef NAME
