// Float32 AVX2 + FMA kernels (float_avx2.c), part of the CMagpieKernels module (included by CMagpieKernels.h).
#ifndef CMAGPIE_FLOAT_H
#define CMAGPIE_FLOAT_H
#include <stdint.h>

/// Float32 depthwise convolution (multiplier 1) on AVX2 + FMA (float_avx2.c).
typedef struct {
    const float *in; float *out;
    int32_t batches, ih, iw, c, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
    const float *w;                   // [kh * kw][c], the TFLite filter's layout
    const float *bias;                // [c] (zeros when the operator has none)
    float lo, hi;                     // the fused activation's clamp
    /// iw * c zeros for the 3x3 path (rows above or below the input), or NULL to use only the general path.
    const float *zero_row;
} mf_dw;

/// 1 when this CPU runs the float AVX2 kernels (x86-64 with AVX2 and FMA), else 0. Elsewhere the kernels are
/// empty stubs: callers must check this first.
int mf_cpu_supported(void);
/// Output rows [row_begin, row_end) over batches * oh.
void mf_dw_rows(const mf_dw *p, int32_t row_begin, int32_t row_end);

/// The float GEMM's register tile: c[r][j] = clamp(bias[j] + sum over i < k of a[r][i] * b[i][j]) for rows
/// r < `rows` (1...6, row stride `a_stride`) and the first `columns` (1...16) of one 16-wide packed weight panel
/// (`b`: k x 16, `bias`: 16), each sum in k order from the bias with one FMA per step; the clamp to [lo, hi] only
/// when `clamps` is 1. A tile of fewer rows does proportionally less work.
void mf_tile(int32_t k, const float *a, int32_t a_stride, int32_t rows, const float *b, const float *bias,
             float *c, int32_t c_stride, int32_t columns, float lo, float hi, int32_t clamps);

/// `mf_tile` over a block: rows [0, rows) of A (`a`, row stride `a_stride`) in tiles of 6, times weight panels
/// [p0, p1) of `packed` (each k x 16, the last holding the columns up to `n`), into `c` (row stride `c_stride`,
/// column 16 p of the first row at c + 16 p). Panels in the outer loop when `panels_outer` is 1 (A small enough to
/// stay in cache while each panel is used by every tile), else the row tiles.
void mf_gemm(int32_t k, const float *a, int32_t a_stride, int32_t rows, const float *packed, const float *bias,
             float *c, int32_t c_stride, int32_t n, int32_t p0, int32_t p1, int32_t panels_outer, float lo, float hi,
             int32_t clamps);

#endif
