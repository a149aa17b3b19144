// AVX-512 VNNI microkernels for Magpie's quantized (int8 / uint8) convolutions.
//
// Every function is compiled for avx512f/bw/vl/dq/vnni through a per-function target attribute, so the package
// builds for any x86-64 (and, without these kernels, for other architectures); Swift calls them only when
// `mq_cpu_supported()` says the CPU has the features.
//
// Arithmetic is exact integer arithmetic: the dot products wrap modulo 2^32 like the reference's int32
// accumulator, and the requantization is the AVX2 kernels' one-rounding form of TFLite's
// MultiplyByQuantizedMultiplier (mq5_rq in avx2_common.h, on the same records), bit for bit.
#include "CMagpieKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "avx2_common.h"

#define MQ_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define MQ_INLINE static inline __attribute__((always_inline))

int mq_cpu_supported(void) {
    // MAGPIE_MAX_ISA=avx2 (or generic) keeps these kernels off, so that an AVX-512 machine can test the others.
    const char *isa = getenv("MAGPIE_MAX_ISA");
    if (isa != NULL && (strcmp(isa, "generic") == 0 || strcmp(isa, "avx2") == 0)) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
}

MQ_INLINE MQ_T __mmask16 mq_tail_mask(int32_t remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1u);
}

// MARK: GEMM

enum { MQ_MB = 24 };

/// One MR x (16*NZ) register tile over the whole reduction: A rows are broadcast 4 bytes at a time (uint8), B
/// holds 16 columns x 4 k per vector (int8), VPDPBUSD accumulates 4 products per int32 lane. The accumulators start
/// at the folded bias; the epilogue adds the row correction (uint8 models), requantizes (`mode`, the records'
/// MQ2_MODE_*), clamps and stores rows below `rows_valid`.
MQ_INLINE MQ_T void mq_tile(const mq_gemm *p, const uint8_t *ap, const int8_t *bp, const int32_t *corr,
                            int32_t col0, int32_t rows_valid, uint8_t *c, const int MR, const int NZ,
                            const int mode) {
    const int32_t kp = p->kp;
    const size_t bstride = (size_t)kp * 16;
    const int32_t *rq = p->rq + (size_t)(col0 / 16) * MQ_RQ16_INTS;
    __m512i acc[24];
    for (int z = 0; z < NZ; z++) {
        const __m512i bias = _mm512_loadu_si512(rq + z * MQ_RQ16_INTS);
        for (int r = 0; r < MR; r++) acc[r * NZ + z] = bias;
    }
    for (int32_t g = 0; g < kp; g += 4) {
        __m512i w[4];
        for (int z = 0; z < NZ; z++) w[z] = _mm512_loadu_si512((const void *)(bp + z * bstride + (size_t)g * 16));
        for (int r = 0; r < MR; r++) {
            int32_t word;
            memcpy(&word, ap + (size_t)r * kp + g, 4);
            const __m512i x = _mm512_set1_epi32(word);
            for (int z = 0; z < NZ; z++) acc[r * NZ + z] = _mm512_dpbusd_epi32(acc[r * NZ + z], x, w[z]);
        }
    }
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi = _mm512_set1_epi32(p->act_max);
    const int corrects = p->row_corr != 0;
    for (int z = 0; z < NZ; z++) {
        const int32_t col = col0 + z * 16;
        if (col >= p->n) break;
        const __mmask16 nm = mq_tail_mask(p->n - col);
        const __m512i *r16 = (const __m512i *)(rq + z * MQ_RQ16_INTS);
        for (int r = 0; r < MR; r++) {
            if (r >= rows_valid) break;
            __m512i v = acc[r * NZ + z];
            if (corrects) v = _mm512_add_epi32(v, _mm512_set1_epi32(corr[r]));
            // The one-rounding requantization of the AVX2 kernels (zero point included), then the activation clamp
            // (within the type's range), so the bytes are theirs and the reference's.
            v = _mm512_min_epi32(_mm512_max_epi32(mq5_rq(v, r16, mode), lo), hi);
            _mm_mask_storeu_epi8(c + (size_t)r * p->c_stride + col, nm, _mm512_cvtepi32_epi8(v));
        }
    }
}

/// The tile shapes (rows x 16-column vectors), each specialised for the requantization mode.
#define MQ_TILE_SHAPE(NAME, R, Z)                                                                                     \
    static MQ_T void NAME(const mq_gemm *p, const uint8_t *ap, const int8_t *bp, const int32_t *corr, int32_t col0, \
                          int32_t rows, uint8_t *c) {                                                               \
        switch (p->rq_mode) {                                                                                       \
        case MQ2_MODE_RELU: mq_tile(p, ap, bp, corr, col0, rows, c, R, Z, MQ2_MODE_RELU); break;                    \
        case MQ2_MODE_LINEAR: mq_tile(p, ap, bp, corr, col0, rows, c, R, Z, MQ2_MODE_LINEAR); break;                \
        default: mq_tile(p, ap, bp, corr, col0, rows, c, R, Z, MQ2_MODE_GENERAL); break;                            \
        }                                                                                                           \
    }
MQ_TILE_SHAPE(mq_tile_6x4, 6, 4)
MQ_TILE_SHAPE(mq_tile_8x3, 8, 3)
MQ_TILE_SHAPE(mq_tile_12x2, 12, 2)
MQ_TILE_SHAPE(mq_tile_24x1, 24, 1)
#undef MQ_TILE_SHAPE

/// Copies up to MQ_MB rows of A into `abuf` (row stride kp, zero padded), flipping int8 to uint8, and computes
/// each row's correction `row_corr * sum(row)` (zero for int8).
static MQ_T void mq_pack_rows(const mq_gemm *p, int32_t r0, int32_t rows, uint8_t *abuf, int32_t *corr) {
    const int32_t k = p->k, kp = p->kp;
    const __m512i flip = _mm512_set1_epi8(p->flip ? (char)0x80 : 0);
    for (int32_t r = 0; r < MQ_MB; r++) {
        uint8_t *dst = abuf + (size_t)r * kp;
        if (r >= rows) { memset(dst, 0, (size_t)kp); corr[r] = 0; continue; }
        const uint8_t *src = p->a + (size_t)(r0 + r) * p->a_stride;
        __m512i sum = _mm512_setzero_si512();
        int32_t i = 0;
        for (; i < k; i += 64) {
            const __mmask64 m = (k - i) >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (k - i)) - 1);
            __m512i v = _mm512_maskz_loadu_epi8(m, src + i);
            sum = _mm512_add_epi64(sum, _mm512_sad_epu8(v, _mm512_setzero_si512()));
            v = _mm512_maskz_mov_epi8(m, _mm512_xor_si512(v, flip));
            const int32_t left = kp - i;
            const __mmask64 sm = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
            _mm512_mask_storeu_epi8(dst + i, sm, v);
        }
        for (; i < kp; i++) dst[i] = 0;
        corr[r] = p->row_corr * (int32_t)_mm512_reduce_add_epi64(sum);
    }
}

MQ_T void mq_gemm_task(const mq_gemm *p, int32_t task) {
    // Column blocks are split in groups of 4 (one 64-wide tile).
    int32_t mb0, mb1, nb0, nb1;
    mq_task_range(p, task, MQ_MB, 4, &mb0, &mb1, &nb0, &nb1);
    const int32_t kp = p->kp;
    uint8_t abuf[MQ_MB * kp] __attribute__((aligned(64)));
    int32_t corr[MQ_MB];
    for (int32_t mb = mb0; mb < mb1; mb++) {
        const int32_t r0 = mb * MQ_MB;
        const int32_t rows = p->m - r0 < MQ_MB ? p->m - r0 : MQ_MB;
        mq_pack_rows(p, r0, rows, abuf, corr);
        uint8_t *c = p->c + (size_t)r0 * p->c_stride;
        for (int32_t j = nb0; j < nb1;) {
            const int32_t left = nb1 - j;
            const int8_t *bp = p->b + (size_t)j * kp * 16;
            const int32_t col0 = j * 16;
            if (left >= 4) {
                for (int32_t s = 0; s < rows; s += 6)
                    mq_tile_6x4(p, abuf + (size_t)s * kp, bp, corr + s, col0, rows - s, c + (size_t)s * p->c_stride);
                j += 4;
            } else if (left == 3) {
                for (int32_t s = 0; s < rows; s += 8)
                    mq_tile_8x3(p, abuf + (size_t)s * kp, bp, corr + s, col0, rows - s, c + (size_t)s * p->c_stride);
                j += 3;
            } else if (left == 2) {
                for (int32_t s = 0; s < rows; s += 12)
                    mq_tile_12x2(p, abuf + (size_t)s * kp, bp, corr + s, col0, rows - s, c + (size_t)s * p->c_stride);
                j += 2;
            } else {
                mq_tile_24x1(p, abuf, bp, corr, col0, rows, c);
                j += 1;
            }
        }
    }
}

#else

int mq_cpu_supported(void) { return 0; }
void mq_gemm_task(const mq_gemm *p, int32_t task) { (void)p; (void)task; }

#endif
