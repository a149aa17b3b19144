// Shared AVX2 helpers of the CMagpieKernels C files (private: not part of the module's public headers).
//
// Everything here is exact integer arithmetic that reproduces TFLite's reference rounding bit for bit.
#ifndef MAGPIE_AVX2_COMMON_H
#define MAGPIE_AVX2_COMMON_H
#if defined(__x86_64__)
#include <immintrin.h>
#include "CMagpieKernels.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MQ2_T __attribute__((target("avx2,fma")))
#define MQ2_INLINE static inline __attribute__((always_inline))

/// 1 when this CPU runs the AVX2 kernels, unless the environment variable MAGPIE_MAX_ISA is "generic": then the
/// portable kernels run instead (Swift SIMD, or the reference), as on a CPU without AVX2, so that an x86-64 machine
/// can test them (the CI's portable pass does). Read once per kernel family, when the engine first asks.
MQ2_INLINE int mq2_cpu_has_avx2(void) {
    const char *isa = getenv("MAGPIE_MAX_ISA");
    if (isa != NULL && strcmp(isa, "generic") == 0) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/// 1 when the AVX2 kernels may use their AVX-512 variants (AVX-512 F, VL, DQ and BW on the CPU), unless
/// MAGPIE_MAX_ISA is "generic" or "avx2" (so that an AVX-512 machine can test and time the AVX2 variants too).
MQ2_INLINE int mq2_cpu_has_avx512(void) {
    const char *isa = getenv("MAGPIE_MAX_ISA");
    if (isa != NULL && (strcmp(isa, "generic") == 0 || strcmp(isa, "avx2") == 0)) return 0;
    __builtin_cpu_init();
    return mq2_cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
}

/// A CPU check asked once per process: `*slot` starts at -1 and keeps `detect()`'s answer (a race between threads
/// runs `detect` twice and stores the same value).
MQ2_INLINE int mq_cached_check(int *slot, int (*detect)(void)) {
    int v = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (v < 0) {
        v = detect();
        __atomic_store_n(slot, v, __ATOMIC_RELAXED);
    }
    return v;
}

/// Task `task`'s share of an mq_gemm grid (task = mt * n_tasks + nt): row blocks [*mb0, *mb1) of `block` rows, and
/// 16-column panels [*j0, *j1), split in groups of `group` panels (the width of one register or tile block).
MQ2_INLINE void mq_task_range(const mq_gemm *p, int32_t task, int32_t block, int32_t group, int32_t *mb0,
                              int32_t *mb1, int32_t *j0, int32_t *j1) {
    const int32_t mt = task / p->n_tasks, nt = task % p->n_tasks;
    const int32_t mblocks = (p->m + block - 1) / block;
    *mb0 = (int32_t)((int64_t)mblocks * mt / p->m_tasks);
    *mb1 = (int32_t)((int64_t)mblocks * (mt + 1) / p->m_tasks);
    const int32_t nb = p->np / 16, ng = (nb + group - 1) / group;
    *j0 = group * (int32_t)((int64_t)ng * nt / p->n_tasks);
    const int32_t end = group * (int32_t)((int64_t)ng * (nt + 1) / p->n_tasks);
    *j1 = end < nb ? end : nb;
}

/// Functions that use AVX-512 (F, BW, VL, DQ): called only when mq5_cpu_supported() (CMagpieKernels.h)
/// or the VNNI check says so.
#define MQ5_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

/// The 64-bit sums of mq5_rq below: the even lanes' (`*ne`) and odd lanes' (`*no`) products with the multipliers
/// plus the rounding constants, and in modes other than RELU the tie terms of negative products.
MQ2_INLINE MQ5_T void mq5_rq_sums(__m512i x, const __m512i *r, const int mode, __m512i *ne, __m512i *no) {
    const __m512i pe = _mm512_mul_epi32(x, _mm512_loadu_si512(r + 1));
    const __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_loadu_si512(r + 2));
    *ne = _mm512_add_epi64(pe, _mm512_loadu_si512(r + 3));
    *no = _mm512_add_epi64(po, _mm512_loadu_si512(r + 4));
    if (mode != MQ2_MODE_RELU) {
        const __m512i limit = _mm512_set1_epi64(-(1LL << 30));
        *ne = _mm512_mask_add_epi64(*ne, _mm512_cmpgt_epi64_mask(limit, pe), *ne, _mm512_loadu_si512(r + 7));
        *no = _mm512_mask_add_epi64(*no, _mm512_cmpgt_epi64_mask(limit, po), *no, _mm512_loadu_si512(r + 8));
    }
}

/// MQ2_MODE_FLOAT's requantization of 16 lanes (records in CMagpieKernels.h): VCVTPS2DQ rounds half to even under
/// the default MXCSR, which nothing in the process changes; the clamp in float keeps every value in int32 range.
MQ2_INLINE MQ5_T __m512i mq5_rq_float(__m512i x, const __m512i *r) {
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(x), _mm512_castsi512_ps(_mm512_loadu_si512(r + 1)));
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_castsi512_ps(_mm512_loadu_si512(r + 2))),
                      _mm512_castsi512_ps(_mm512_loadu_si512(r + 3)));
    return _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_loadu_si512(r + 9));
}

/// mq5_rq_float for the kernels that narrow their results with VPACKSSDW (mq_tile, mqv_dw_run3), one clamp and
/// one addition fewer: no lower clamp and no zero point, which the caller adds to the int16 values with saturation
/// (VPADDSW, `mq5_float_zero_point`) and then clamps the bytes from below to act_min. A value under the range, even
/// one whose conversion overflowed to INT32_MIN, saturates low and ends at act_min, so the bytes are
/// mq5_rq_float's (XNNPACK narrows the same way).
MQ2_INLINE MQ5_T __m512i mq5_rq_float_packed(__m512i x, const __m512i *r) {
    const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(x), _mm512_castsi512_ps(_mm512_loadu_si512(r + 1)));
    return _mm512_cvtps_epi32(_mm512_min_ps(f, _mm512_castsi512_ps(_mm512_loadu_si512(r + 3))));
}

/// The output zero point of MQ2_MODE_FLOAT records `rq` (16-lane blocks; every lane of a real channel holds it,
/// and lane 0 of the first block is always one) in the 32 int16 lanes of a 512-bit vector.
MQ2_INLINE MQ5_T __m512i mq5_float_zero_point(const int32_t *rq) {
    return _mm512_set1_epi16((int16_t)rq[9 * 16]);
}

/// mq2_rq (quantized_avx2.c) on 16 lanes: `r` holds the 12 vectors of two 8-lane requantization records side by
/// side (record a's 8 lanes, then record b's), so the arithmetic and the results are mq2_rq's, lane for lane.
MQ2_INLINE MQ5_T __m512i mq5_rq(__m512i x, const __m512i *r, const int mode) {
    if (mode == MQ2_MODE_FLOAT) return mq5_rq_float(x, r);
    if (mode == MQ2_MODE_GENERAL) x = _mm512_sllv_epi32(x, _mm512_loadu_si512(r + 10));
    __m512i ne, no;
    mq5_rq_sums(x, r, mode, &ne, &no);
    ne = _mm512_srlv_epi64(ne, _mm512_loadu_si512(r + 5));
    __m512i v;
    if (mode == MQ2_MODE_GENERAL) v = _mm512_mask_blend_epi32(0xAAAA, ne, _mm512_slli_epi64(_mm512_srlv_epi64(no, _mm512_loadu_si512(r + 6)), 32));
    else v = _mm512_mask_blend_epi32(0xAAAA, ne, _mm512_srlv_epi64(no, _mm512_loadu_si512(r + 11)));
    return _mm512_add_epi32(v, _mm512_loadu_si512(r + 9));
}

/// The shifts of mq5_rq_hi below for the records `r` (modes RELU and LINEAR, every e >= 1): e - 1 in each 32-bit
/// lane, from the even lanes' 64-bit shifts 31 + e (vector 5) and the odd lanes' e - 1 (vector 11).
MQ2_INLINE MQ5_T __m512i mq5_rq_shifts(const __m512i *r) {
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_sub_epi64(_mm512_loadu_si512(r + 5), _mm512_set1_epi64(32)),
                                   _mm512_slli_epi64(_mm512_loadu_si512(r + 11), 32));
}

/// mq5_rq for modes RELU and LINEAR, lane for lane the same values, with 32-bit shifts: the 64-bit sums (offset by
/// 2^62, so never negative) are first cut to their high 32 bits, floor(s / 2^32), and then shifted right by e - 1
/// (`shifts`, from mq5_rq_shifts) in all 16 lanes at once; floor(floor(s / 2^32) / 2^(e-1)) = floor(s / 2^(31+e)).
/// One immediate 64-bit shift and one 32-bit variable shift replace two 64-bit variable shifts, which issue at
/// half the rate on AMD Zen 5 (0.76 against 1.6 per cycle).
MQ2_INLINE MQ5_T __m512i mq5_rq_hi(__m512i x, const __m512i *r, __m512i shifts, const int mode) {
    if (mode == MQ2_MODE_FLOAT) return mq5_rq_float(x, r);
    __m512i ne, no;
    mq5_rq_sums(x, r, mode, &ne, &no);
    const __m512i hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(ne, 32), no);
    return _mm512_add_epi32(_mm512_srlv_epi32(hi, shifts), _mm512_loadu_si512(r + 9));
}

/// mq5_rq_hi on records whose rounding constants (vectors 3 and 4) hold `2^30 + 2^(e+30) + zp * 2^(31+e)` instead
/// of `2^62 + 2^30 + 2^(e+30)` (every e in 1...22: the sums stay within int64): the zero point is then part of the
/// floor division, the high halves are signed, and an arithmetic shift ends it, one addition fewer per vector.
/// floor(floor(s / 2^32) / 2^(e-1)) = floor(s / 2^(31+e)) holds for negative s too. The VNNI kernels' records
/// (`mq_gemm.rq` without AMX, `mq2_dw.rqv`) are built this way (QuantizedKernels.foldZeroPoint).
MQ2_INLINE MQ5_T __m512i mq5_rq_folded(__m512i x, const __m512i *r, __m512i shifts, const int mode) {
    if (mode == MQ2_MODE_FLOAT) return mq5_rq_float(x, r);
    __m512i ne, no;
    mq5_rq_sums(x, r, mode, &ne, &no);
    return _mm512_srav_epi32(_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(ne, 32), no), shifts);
}

/// The output columns [*lo, *hi) of a windowed operator whose window lies inside the input horizontally (input
/// width iw, output width ow, window kw with stride sw, dilation dw and leading padding pw); the depthwise kernels
/// take those columns on their fast path and bounds-check only the others. Column x's window ends inside when
/// x * sw < iw + pw - (kw - 1) * dw, so the columns from `first` on up to that bound, in closed form (the kernels
/// ask per call, and the fused pairs' windowed producer per band of rows; a loop over the columns had cost a
/// step per column each time; checked equal to that loop for every iw <= 40, ow <= 45, kw <= 7, sw <= 4,
/// dw <= 3, pw <= 8).
MQ2_INLINE void mq2_interior_columns(int32_t iw, int32_t ow, int32_t kw, int32_t sw, int32_t dw, int32_t pw,
                                     int32_t *lo, int32_t *hi) {
    int32_t first = (pw + sw - 1) / sw;
    const int32_t limit = iw + pw - (kw - 1) * dw;
    int32_t end = limit <= 0 ? 0 : (limit + sw - 1) / sw;
    if (end > ow) end = ow;
    if (end < first) end = first;
    if (first > ow) first = end = ow;
    *lo = first;
    *hi = end;
}

/// TFLite's SaturatingRoundingDoublingHighMul(x, m) for 8 lanes, m >= 0:
/// floor((x * m + 2^30) / 2^31), which equals TFLite's nudged, truncating division for every x and m >= 0.
/// The 64-bit products come from two VPMULDQ (even and odd lanes); the low 32 bits of `(p + 2^30) >> 31` are
/// bits 31..62 of the sum, taken with logical shifts (AVX2 has no 64-bit arithmetic shift).
MQ2_INLINE MQ2_T __m256i mq2_high_mul(__m256i x, __m256i m) {
    const __m256i half = _mm256_set1_epi64x(1LL << 30);
    __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, m), half);
    __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), half);
    even = _mm256_srli_epi64(even, 31);
    odd = _mm256_slli_epi64(odd, 1);
    return _mm256_blend_epi32(even, odd, 0xAA);
}

/// TFLite's RoundingDivideByPOT(x, e) for 8 lanes: (x >> e) + ((x & mask) > (mask >> 1) + (x < 0)),
/// with mask = 2^e - 1 and half = mask >> 1 given per lane.
MQ2_INLINE MQ2_T __m256i mq2_rounding_shift(__m256i x, __m256i e, __m256i mask, __m256i half) {
    const __m256i rem = _mm256_and_si256(x, mask);
    const __m256i thr = _mm256_sub_epi32(half, _mm256_srai_epi32(x, 31));
    const __m256i q = _mm256_srav_epi32(x, e);
    return _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, thr));
}

/// TFLite's MultiplyByQuantizedMultiplier(x, mult, shift) (double rounding) for 8 lanes: the left part of the
/// shift (`lsh`), the high multiply, then the rounding right shift (`rsh`, with its mask and half).
MQ2_INLINE MQ2_T __m256i mq2_requant(__m256i x, __m256i mult, __m256i lsh, __m256i rsh, __m256i rmask,
                                     __m256i rhalf) {
    return mq2_rounding_shift(mq2_high_mul(_mm256_sllv_epi32(x, lsh), mult), rsh, rmask, rhalf);
}

/// An AMX tile configuration (palette 1) for the GEMMs of quantized_amx.c and float_amx.c: tiles 0-3 the 16 x 16
/// 32-bit accumulators, 4-5 A tiles of 16 rows x `a_bytes`, 6-7 B tiles of `b_rows` rows x 64 bytes.
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed, aligned(64))) mq_tile_config;

static inline __attribute__((always_inline, target("amx-tile"))) void mq_tile_configure(int32_t a_bytes,
                                                                                         int32_t b_rows) {
    mq_tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 4; t++) { cfg.colsb[t] = 64; cfg.rows[t] = 16; }
    for (int t = 4; t < 6; t++) { cfg.colsb[t] = (uint16_t)a_bytes; cfg.rows[t] = 16; }
    for (int t = 6; t < 8; t++) { cfg.colsb[t] = 64; cfg.rows[t] = (uint8_t)b_rows; }
    _tile_loadconfig(&cfg);
}

#endif
#endif
