// Float32 AVX2 + FMA kernels (float_avx2.c), part of the CMagpieKernels module (included by CMagpieKernels.h).
// On CPUs with AVX-512 (F, VL, DQ, BW) the GEMM tiles and the 3x3 depthwise runs use 512-bit vectors, with the
// same sums in the same order (the same bits); MAGPIE_MAX_ISA=avx2 keeps them on 256-bit vectors.
#ifndef CMAGPIE_FLOAT_H
#define CMAGPIE_FLOAT_H
#include <stddef.h>
#include <stdint.h>

/// Float32 depthwise convolution (multiplier 1) on AVX2 + FMA (float_avx2.c).
typedef struct {
    const float *in; float *out;
    int32_t batches, ih, iw, c, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
    const float *w;                   // [kh * kw][c], the TFLite filter's layout
    const float *bias;                // [c] (zeros when the operator has none)
    float lo, hi;                     // the fused activation's clamp
    /// iw * c zeros (mf_expand_dw_row_floats(iw, c) for the fused kernel's planar ring) for the 3x3 path (rows
    /// above or below the input), or NULL to use only the general path.
    const float *zero_row;
} mf_dw;

/// 1 when this CPU runs the float AVX2 kernels (x86-64 with AVX2 and FMA), else 0. Elsewhere the kernels are
/// empty stubs: callers must check this first.
int mf_cpu_supported(void);
/// Output rows [row_begin, row_end) over batches * oh.
void mf_dw_rows(const mf_dw *p, int32_t row_begin, int32_t row_end);
/// mf_dw_rows for channels [c0, c1) only: c0 a multiple of 16, c1 one too or `c`.
void mf_dw_rows_channels(const mf_dw *p, int32_t row_begin, int32_t row_end, int32_t c0, int32_t c1);

/// The float GEMM on a block: c[r][j] = clamp(bias[j] + sum over i < k of a[r][i] * b[i][j]) for rows [0, rows) of
/// A (`a`, row stride `a_stride`) and the columns of weight panels [p0, p1) of `packed` (each k x 16 with its 16
/// biases, the last panel holding the columns up to `n`), into `c` (row stride `c_stride`, column j at c + j). Each
/// sum runs in k order from the bias with one FMA per step (the Swift tile's order, so the bits do not depend on
/// the tiling); the clamp to [lo, hi] applies when `clamps` is 1. Rows go in register tiles of up to 6; panels in the
/// outer loop when `panels_outer` is 1 (A small enough to stay in cache while each panel meets every tile), else the
/// row tiles; 2 is 1 with `ks` already filled by mf_gemm_list_live_steps. Two panels whose last has at most 8
/// columns (17-24 output channels) go in tiles of 4 rows x 24 columns instead, whatever `panels_outer`. With AVX-512:
/// tiles of up to 6 rows x two panels (an odd last panel alone), 17-24 columns included (two whole 16-lane
/// accumulators per row, the second stored masked: 1.28x the 8 x 24 tiles of sessions 9-12).
///
/// With `ks` non-NULL (room for mf_gemm_live_ints(k, rows, panels_outer) ints), each row tile first lists the steps
/// i at which one of its rows is nonzero and skips the others: the same sums, since a skipped step would add
/// 0 x b[i][j] (for finite weights; +0 and -0 count as zero, so a zero output's sign may differ). Worth it where
/// A comes out of a ReLU, whose zeros run along whole channels (MobileNetV2's projections skip 3-58% of the steps).
///
/// With `add` non-NULL (laid out like `c`), a residual ADD runs in the store: each output becomes
/// clamp(c + add, add_lo, add_hi) (MobileNetV2's projections and the ADD after them, one pass instead of two).
void mf_gemm(int32_t k, const float *a, int32_t a_stride, int32_t rows, const float *packed, const float *bias,
             float *c, int32_t c_stride, int32_t n, int32_t p0, int32_t p1, int32_t panels_outer, float lo, float hi,
             int32_t clamps, int32_t *ks, const float *add, float add_lo, float add_hi);

/// mf_gemm's lists of live steps for the panels-outer order, once for every task of a GEMM split by panels: each
/// task then calls mf_gemm with panels_outer 2 and the same `ks`, which only reads them.
void mf_gemm_list_live_steps(int32_t k, const float *a, int32_t a_stride, int32_t rows, int32_t *ks);

/// The ints mf_gemm's `ks` needs: one list of k + 9 per row tile when the panels are outer (each list is used once
/// per panel), else one.
static inline int32_t mf_gemm_live_ints(int32_t k, int32_t rows, int32_t panels_outer) {
    return (k + 9) * (panels_outer ? rows / 5 + 1 : 1);
}

/// One row times a k-major weight matrix (a classifier head as a 1x1 convolution on one pixel): y[j] = clamp(bias[j]
/// + sum over i < k of x[i] * w[i * ld + j]) for j in [j0, j1) (j0 a multiple of 8; each row holds ld >= j1
/// floats, rounded up to 8, zeros past the outputs), each sum from the bias in i order with one FMA per step:
/// mf_gemm's bits. The clamp applies when `clamps` is 1; the partial sums live in y. With `ks` (room for k + 8 ints)
/// non-NULL, the rows whose x[i] is zero (+0 or -0) are skipped, each a whole run of ld weights that is then not
/// read: where x is an average pool of ReLU outputs (MobileNetV2's classifier: 23-39% zeros), less of the
/// weights comes from DRAM than with mf_gemm's panels, in which a zero skips only 64 bytes of each 5 KB panel.
/// Same sums as the dense product for finite weights (a skipped term is 0 x w).
void mf_gemv_kmajor(int32_t k, const float *x, const float *w, int32_t ld, const float *bias, float *y,
                    int32_t j0, int32_t j1, float lo, float hi, int32_t clamps, int32_t *ks);

/// A float convolution with a constant filter packed like mf_gemm's (k = kh * kw * c, (fy, fx, c) order).
typedef struct {
    int32_t batches, ih, iw, c, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
    const float *packed, *bias;       // panels of k x 16 and their 16 biases each
    int32_t n;                        // output channels
    float lo, hi; int32_t clamps;     // the clamp, applied when clamps is 1
} mf_conv;

/// Output pixels [row0, row0 + rows) (the GEMM's rows, over batches * oh * ow; pixel row0 at `out`) times weight
/// panels [p0, p1), in tiles of 6 pixels: a tile whose windows all lie inside the input (dilation 1 across) reads
/// its A rows in place, one run of kw * c floats per filter row; any other tile is gathered into `scratch`
/// (6 * k floats) with zeros outside the input. Same sums, in the same order, as mf_gemm on the gathered rows.
void mf_conv_rows(const mf_conv *p, const float *in, float *out, int32_t row0, int32_t rows, int32_t p0,
                  int32_t p1, float *scratch);

/// The pointwise projection that reads a fused pair's depthwise output (mf_expand_dw's `proj`): c[r][j] =
/// clamp(bias[j] + sum over i < k of dw[r][i] * b[i][j]) as mf_gemm computes it, k the depthwise channels, into
/// `out` (NHWC, n channels; pixel 0 at `out`), with the residual `add` (laid out like `out`) when it is not NULL.
typedef struct {
    const float *packed, *bias;       // panels of k x 16 and their biases, as mf_gemm's
    int32_t n, panels;                // output channels, weight panels
    float lo, hi; int32_t clamps;     // the projection's clamp
    float *out;
    const float *add; float add_lo, add_hi;
    /// 1 to skip the steps at which a tile's six rows are all zero (mf_gemm's `ks`).
    int32_t skips;
} mf_project;

/// A convolution fused with the 3x3 depthwise convolution that reads its output (`dw`, its `in` and `out` unused):
/// the convolution's output rows live only in a ring of two bands of `band` rows. The convolution is a pointwise
/// expansion (1x1, stride 1: cin -> dw.c channels, packed like mf_gemm's; `conv` NULL) or any convolution `conv` runs.
typedef struct {
    mf_dw dw;
    int32_t cin;
    const float *packed, *bias;       // the expansion's panels (cin x 16 each) and biases
    float lo, hi; int32_t clamps;     // the expansion's clamp
    const mf_conv *conv;              // or NULL
    int32_t band;                     // expanded rows computed at a time (at least 2)
    /// The expansion in bfloat16 (mfa_gemm_planar; the bfloat16 precision where mfa_bf16_supported), else
    /// NULL. `scratch` then holds mfa_abuf_count(cin) bf16.
    const struct mfa_gemm_s *amx;
    /// The projection after the depthwise convolution, or NULL (see mf_expand_dw_project_rows).
    const mf_project *proj;
} mf_expand_dw;

/// Which expanded rows a thread's ring holds between the calls it makes in one invoke of a fused pair, so that a
/// call whose rows continue the previous call's (the pool runs a thread's own tasks in order) does not compute the
/// rows their windows share again. A call uses it only where its first row is `next_row` (the previous call's
/// end) and `invocation` and the channel range match: a new invoke's input is new. Zeroed memory holds no rows.
typedef struct {
    int32_t invocation, next_row, b, p0, p1;
    int32_t first[2], count[2];
} mf_ring_state;

/// Depthwise output rows [row_begin, row_end) (over batches * oh), channels [16 * p0, 16 * p1) (the convolution's
/// weight panels [p0, p1); the last panel's channels end at dw.c), of the fused pair, from the convolution's input
/// `in` into `out`; `ring` holds mf_expand_dw_ring_floats(iw, c, band) floats, `dw.zero_row`
/// mf_expand_dw_row_floats(iw, c) zeros, and `scratch` 6 * k floats for mf_conv_rows's gathered tiles (unused for an
/// expansion). The convolution's output rows are computed a band at a time, each once per call (twice where two
/// calls' windows share it, unless the second finds it in the ring through `state`), by mf_gemm's or
/// mf_conv_rows's tiles into the planar ring, so the result equals running the two operators one after the other.
/// `state` (or NULL) is the ring's mf_ring_state, read at the start where its invocation is `invocation` and
/// written at the end.
void mf_expand_dw_rows(const mf_expand_dw *f, const float *in, float *out, int32_t row_begin, int32_t row_end,
                       int32_t p0, int32_t p1, float *ring, float *scratch, mf_ring_state *state,
                       int32_t invocation);

/// mf_expand_dw_rows over all the channels with the projection `f->proj` fused after it: each depthwise output row
/// goes to `rows_buffer` (mf_expand_dw_project_floats(ow, c) floats), and the projection runs on the whole 6-pixel
/// tiles there (the rest moves to the buffer's front; the range's last row takes all), so the depthwise output
/// never goes through memory. `ks` holds dw.c + 9 ints for the lists of live steps (with `skips`). The same sums
/// as the three operators one after the other (only where zero skipping's tiles fall differently may a zero
/// output's sign differ).
void mf_expand_dw_project_rows(const mf_expand_dw *f, const float *in, int32_t row_begin, int32_t row_end,
                               float *ring, float *scratch, float *rows_buffer, int32_t *ks, mf_ring_state *state,
                               int32_t invocation);

/// Floats in mf_expand_dw_project_rows's row buffer: one output row and the 5 pixels a row can leave over.
static inline int32_t mf_expand_dw_project_floats(int32_t ow, int32_t c) { return (ow + 5) * c; }

/// Floats in one planar ring row: iw pixels of c channels rounded up to a multiple of 16 (the AVX-512 kernels'
/// blocks; the AVX2 kernels use 8 of them).
static inline int32_t mf_expand_dw_row_floats(int32_t iw, int32_t c) { return iw * ((c + 15) / 16 * 16); }

/// Floats in mf_expand_dw_rows's ring: two bands of `band` rows.
static inline int32_t mf_expand_dw_ring_floats(int32_t iw, int32_t c, int32_t band) {
    return 2 * band * mf_expand_dw_row_floats(iw, c);
}

/// SOFTMAX over `rows` rows of `depth` floats (AVX-512; call only where mq5_cpu_supported()): per row, the largest
/// value (NaNs passed over, as the reference's `largest < x` does), exp((x - largest) * beta) by a degree-6
/// polynomial after range reduction and VSCALEFPS (relative error about 2e-7 against expf; arguments clamped to
/// [-104, 89], past which expf is 0 or infinite; NaN stays NaN), the sum in 16 lanes, and each value divided by it.
void mf_softmax_rows(const float *x, float *y, int32_t rows, int32_t depth, float beta);

/// The float GEMM in bfloat16 on AMX-BF16 tiles or AVX512_BF16 (float_amx.c): A and the weights rounded to bfloat16
/// (RNE), the products summed in fp32. For the opt-in bfloat16 precision. `b` comes from mfa_pack.
typedef struct mfa_gemm_s {
    int32_t k, kp, n;                 // reduction, reduction padded (mfa_kp), output columns
    const uint16_t *b;                // mfa_pack's panels
    const float *bias;                // (n + 15) / 16 * 16 floats
    float lo, hi; int32_t clamps;     // the convolution's clamp, applied when clamps is 1
    /// 1: mfa_gemm_rows without AMX multiplies, per group of 8 rows, only the steps of two k at which one of the
    /// group's A values is nonzero (for A from a ReLU; the bf16 weights must be finite, as 0 x inf is NaN).
    int32_t skips;
} mfa_gemm;

/// 1 when this CPU and OS run mfa_ (AMX-TILE, AMX-BF16, AVX512_BF16, the tile state granted) and MAGPIE_MAX_ISA
/// does not rule AMX out.
int mfa_cpu_supported(void);

/// 1 when this CPU runs mfa_gemm_rows and mfa_gemm_planar: on AMX-BF16 tiles (mfa_cpu_supported), or else with
/// AVX512_BF16's VDPBF16PS (AVX-512 F/BW/VL/DQ as mq5_cpu_supported, and AVX512_BF16: AMD Zen 4 and later, Intel
/// Cooper Lake), with the same rounding of the operands and float32 sums.
int mfa_bf16_supported(void);

/// The reduction padded to the tile step: to even up to 32, else to a multiple of 32.
static inline int32_t mfa_kp(int32_t k) { return k <= 32 ? (k + 1) / 2 * 2 : (k + 31) / 32 * 32; }

/// bf16 elements mfa_pack writes: (n + 15) / 16 panels of kp x 16.
static inline int64_t mfa_packed_count(int32_t k, int32_t n) { return (int64_t)(n + 15) / 16 * mfa_kp(k) * 16; }

/// bf16 elements of mfa_gemm_rows's `abuf` (one per concurrent caller): 32 rows x kp.
static inline int64_t mfa_abuf_count(int32_t k) { return (int64_t)32 * mfa_kp(k); }

/// Packs the filter `w` (n rows of k floats) as bf16 panels of 16 columns, [panel][kp / 2][16][2], zeros past k
/// and n.
void mfa_pack(const float *w, int32_t k, int32_t n, int32_t kp, uint16_t *out);

/// c[r][j] = clamp(bias[j] + sum over i < k of bf16(a[r][i]) * bf16(w[j][i])) for rows [r0, r1) and the columns of
/// panels [j0, j1) (j0 even), A row stride `a_stride`, C row stride `c_stride`; with `add` (laid out like c) each
/// output then becomes clamp(c + add, add_lo, add_hi). `abuf`: mfa_abuf_count bf16.
void mfa_gemm_rows(const mfa_gemm *p, const float *a, int32_t a_stride, float *c, int32_t c_stride, int32_t r0,
                   int32_t r1, int32_t j0, int32_t j1, uint16_t *abuf, const float *add, float add_lo, float add_hi);

/// The same products for `rows` rows of A into planar blocks (mf_expand_dw_rows's ring): output column j of row r at
/// c[(j / 16) * block_stride + r * 16 + j % 16], for the panels [j0, j1); the bias and the clamp applied, no
/// residual.
void mfa_gemm_planar(const mfa_gemm *p, const float *a, int32_t a_stride, int32_t rows, float *c,
                     size_t block_stride, int32_t j0, int32_t j1, uint16_t *abuf);

#endif
