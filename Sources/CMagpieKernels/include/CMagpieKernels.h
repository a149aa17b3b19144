#ifndef CMAGPIE_KERNELS_H
#define CMAGPIE_KERNELS_H
#include <stdint.h>

/// 1 when this CPU runs the AVX-512 VNNI kernels below (x86-64 with avx512f/bw/vl/dq/vnni), else 0.
int mq_cpu_supported(void);

/// 1 when mq_cpu_supported() and the CPU has AVX-512 VBMI too: then mq_gemm_task also takes windowed convolutions
/// whose filter rows are at most 16 contiguous bytes (`kw * c <= 16`, dilation 1 across), at most 3 of them and
/// at most 32 bytes in all (`k <= 32`; MobileNetV2's first layer), each receptive field assembled in a register by
/// one VPERMT2B; and the 3x3 depthwise kernels take their VNNI run (mq2_dw's `wv`).
int mq_windowed_supported(void);

/// int32 slots of one 16-column requantization block of mq_gemm (12 vectors of 16 lanes).
enum { MQ_RQ16_INTS = 192 };

/// The window of a convolution whose GEMM rows are receptive fields (im2col rows, (fy, fx, c) order, built while
/// a row block is packed; taps outside the input hold the input zero point `in_zp`).
typedef struct {
    int32_t batches, ih, iw, c, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
    int32_t in_zp;
} mq_window;

/// A quantized GEMM `C[m][n] = requant(sum_k A[m][k] * B[k][n] + bias'[n] + row_corr * rowsum_k(A[m]))`.
/// See QuantizedConv.swift for how the corrections are folded.
typedef struct {
    int32_t m, k, kp, n, np;          // rows, reduction (kp = k rounded up to 4), columns (np = n rounded up to 16)
    const uint8_t *a; int32_t a_stride; // row r of A at a + r * a_stride (k bytes)
    int64_t a_size;                   // bytes of A's tensor (the AMX GEMM reads nothing at or past a + a_size)
    const int8_t *b;                  // packed: [np/16][kp/4][16 lanes][4 bytes]
    /// Requantization: per 16 columns, the 12 vectors of two 8-lane AVX2 records (MQ2_RQ_INTS below: bias,
    /// multipliers, one-rounding constants, output zero point) side by side, 16 lanes each; `rq_mode` is MQ2_MODE_*.
    const int32_t *rq; int32_t rq_mode;
    int32_t act_min, act_max;
    int32_t flip;                     // 1: A holds int8 (xor 0x80 to make it uint8)
    int32_t row_corr;                 // multiplier of the row sums (uint8 models: 128 - filter zero point)
    uint8_t *c; int32_t c_stride;
    int32_t m_tasks, n_tasks;         // task grid: task = mt * n_tasks + nt
    /// NULL for a pointwise convolution (row r of A is input pixel r), else the window whose receptive fields are
    /// the rows (a_stride unused): any window on AMX, small ones on VNNI (mq_windowed_supported()).
    const mq_window *window;
} mq_gemm;

/// Runs task `task` of the grid (`m_tasks * n_tasks` tasks).
void mq_gemm_task(const mq_gemm *p, int32_t task);

/// 1 when this CPU runs the AMX GEMM below: mq_cpu_supported(), AMX-TILE and AMX-INT8, the tile state enabled by
/// the OS and granted to this process (Linux arch_prctl), and MAGPIE_MAX_ISA none of "avx512", "avx2" or
/// "generic". Asked once per process; else 0.
int mqa_cpu_supported(void);

/// Task `task` of an mq_gemm on AMX tiles (quantized_amx.c). The parameters differ from the VNNI GEMM's in three
/// ways: kp is k rounded up to 4 when that is at most 64, else to a multiple of 64 (the filter is zero-padded to
/// it); for int8 (`flip` 1) A is not flipped, so the bias holds `-zx * sum(w)` instead of `-(128 + zx) * sum(w)`;
/// and `a_size` must be set. With `window`, the rows are receptive fields gathered into a stack buffer.
void mqa_gemm_task(const mq_gemm *p, int32_t task);

// MARK: AVX2 (x86-64 without VNNI); quantized_avx2.c

/// 1 when this CPU runs the AVX2 kernels below (x86-64 with avx2 and fma), else 0.
int mq2_cpu_supported(void);

/// 1 when the AVX2 kernels below may run their 512-bit variants: the CPU has AVX-512 F, BW, VL and DQ, and the
/// environment variable MAGPIE_MAX_ISA is neither "avx2" nor "generic". Asked once per process; else 0.
int mq5_cpu_supported(void);

/// int32 slots of one requantization record: 8 output channels, 12 vectors of 32 bytes:
/// 0 bias, 1 multiplier, 2 multipliers of the odd lanes moved to the even ones, 3/4 the 64-bit rounding constants
/// 2^62 + 2^30 + 2^(e+30) (e >= 1) of the even/odd lanes, 5/6 the 64-bit shifts 31 + e, 7/8 the 64-bit tie terms
/// -2^31 (e >= 1) or 0, 9 the zero point minus 2^(31-e), 10 the left shift, 11 the odd lanes' 64-bit shifts
/// e - 1 (modes RELU and LINEAR); e is the right shift.
enum { MQ2_RQ_INTS = 96 };

/// Requantization modes: GENERAL (any shift, any clamp); RELU (every e >= 1, no left shift, act_min >= zero
/// point: the tie term for negative values is dropped); LINEAR (every e >= 1, no left shift, the clamp is the
/// type's whole range and is left to the saturating packs); FLOAT (XNNPACK's arithmetic, Requantization.xnnpack:
/// records with vector 1 the float32 scales, 2 and 3 the activation range less the zero point as float32, 9 the
/// zero point, and the rest unused: `cvt(min(max(float(acc) * scale, lo), hi)) + zp`, rounding half to even; the
/// result lies in the activation range, so no clamp follows).
enum { MQ2_MODE_GENERAL = 0, MQ2_MODE_RELU = 1, MQ2_MODE_LINEAR = 2, MQ2_MODE_FLOAT = 3 };

/// A quantized convolution as a GEMM on int16 operands with the zero points removed:
/// `C[m][n] = requant(sum_k (x - zx)[m][k] * (w - zw)[k][n] + bias[n])`. Rows of A are read straight from the
/// NHWC input: pixel `m` (pointwise) or its receptive field (windowed, the im2col row built on the fly).
typedef struct {
    int32_t m, k, kp, n, np;          // rows, reduction (kp = k rounded up to 2), columns (np = n rounded up to 16)
    const uint8_t *a; int32_t a_stride; // the input; pointwise row r at a + r * a_stride (k bytes)
    int64_t a_size;                   // bytes of the input (nothing at or past a + a_size is read)
    int32_t windowed;                 // 1: rows are receptive fields of the geometry below
    int32_t batches, ih, iw, c, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
    int32_t in_zp, is_signed;         // input zero point; 1 for int8 data (input and output)
    const int16_t *b;                 // packed filter minus its zero point: [np/16][kp/2][16 columns][2 k]
    /// Or, for a one-row GEMM (m == 1, a classifier), the filter's raw bytes in the same order, widened and
    /// reduced by `b8_zp` as they are read: the product is memory-bound, and bytes halve its traffic. NULL: use `b`.
    const uint8_t *b8; int32_t b8_zp;
    const int32_t *rq;                // np / 8 requantization records (MQ2_RQ_INTS each; see mq2_rq)
    int32_t rq_mode;                  // MQ2_MODE_*
    int32_t act_min, act_max;
    uint8_t *c_out; int32_t c_stride;
    int32_t m_tasks, n_tasks;         // task grid: task = mt * n_tasks + nt
} mq2_gemm;

/// Runs task `task` of the grid (`m_tasks * n_tasks` tasks).
void mq2_gemm_task(const mq2_gemm *p, int32_t task);

/// Depthwise convolution (multiplier 1, at most 64 taps), 16 channels per step, two taps per VPMADDWD.
typedef struct {
    const uint8_t *in; uint8_t *out;
    int32_t batches, ih, iw, c, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
    /// Filter minus its zero point, per block of 16 channels and pair of taps (an odd count padded with a zero
    /// tap): two vectors of 8 (tap 2t, tap 2t+1) int16 pairs, channels {0-3, 8-11} then {4-7, 12-15}.
    const int16_t *w;
    /// Per block of 16 channels, two requantization records (see mq2_rq) for the channels {0-3, 8-11} and
    /// {4-7, 12-15}; their bias is the convolution's minus zx * sum(w - zw).
    const int32_t *rq;
    int32_t rq_mode;                  // MQ2_MODE_*
    int32_t act_min, act_max;
    int32_t is_signed;                // int8 data
    /// max(16 * blocks, iw * c) bytes of the input zero point: a padding tap, or a whole padding input row.
    const uint8_t *pad_row;
    /// For 3x3 windows with dilation 1, stride 1 or 2 and c a multiple of 16 (else NULL): the filter as six pairs
    /// per block of 16 channels, each two vectors in the order of `w`: rows (0, 1) of columns 0, 1, 2, then
    /// (row 2, 0) of columns 0, 1, 2. Lets neighbouring outputs share each input column's widened pairs.
    const int16_t *w3;
    /// With w3 and mq5_cpu_supported() (else NULL), for the 512-bit run, per block of 32 channels (c / 32 of
    /// them): `w5`, w3's twelve vectors of the block's two 16-channel halves side by side (12 x 32 int16);
    /// `rq5`, the halves' two requantization records side by side (2 x 12 vectors of 16 int32: record 0 of
    /// both halves, then record 1).
    const int16_t *w5;
    const int32_t *rq5;
    /// With w3 and mq_windowed_supported() (else NULL), for the VNNI run (every channel): `wv`, per block of 16
    /// channels three vectors of 64 bytes, one per filter column, channel j's rows 0-2 in bytes 4j..4j+2 and a
    /// zero (int8: the filter; uint8: the filter minus 128); `rqv`, per block of 16 channels one 16-lane
    /// requantization block (MQ_RQ16_INTS, as mq_gemm's) in channel order. int8: the activations are flipped to
    /// uint8 and the bias holds `-(128 + zx) * sum(w)`; uint8: the bias holds `-zx * sum(w - zw)` and each output
    /// adds `wv_corr * sum(x)` over its taps, `wv_corr = 128 - zw` (in [-127, 127]).
    const int8_t *wv;
    const int32_t *rqv;
    int32_t wv_corr;
} mq2_dw;

/// Output rows [row_begin, row_end) over batches * oh.
void mq2_dw_rows(const mq2_dw *p, int32_t row_begin, int32_t row_end);

/// One spin-wait step for the thread pool: the CPU's pause hint (x86 PAUSE, ARM YIELD), which frees the core's
/// shared resources and saves power while a thread polls a flag.
static inline void magpie_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

/// 64-bit atomics on plain memory for the thread pool's per-thread lines (Swift's `Atomic` cannot be laid out in
/// a cache-line-padded array). Acquire / release / sequentially consistent as named; the compare-and-swap
/// acquires and releases, and on failure writes the value it saw to `*expected`.
static inline int64_t magpie_atomic_load_acquire(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline int64_t magpie_atomic_load_seq(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void magpie_atomic_store_release(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void magpie_atomic_store_seq(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline int magpie_atomic_cas(int64_t *p, int64_t *expected, int64_t desired) {
    return __atomic_compare_exchange_n(p, expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline void magpie_atomic_fence_seq(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#include "CMagpieElementwise.h"
#include "CMagpieFloat.h"
#endif
