// AVX-512 VNNI microkernels for Magpie's quantized (int8 / uint8) convolutions.
//
// Every function is compiled for avx512f/bw/vl/dq/vnni through a per-function target attribute, so the package
// builds for any x86-64 (and, without these kernels, for other architectures); Swift calls them only when
// `mq_cpu_supported()` says the CPU has the features.
//
// Arithmetic is exact integer arithmetic: the dot products wrap modulo 2^32 like the reference's int32
// accumulator, and the requantization reproduces TFLite's MultiplyByQuantizedMultiplier bit for bit:
//   SaturatingRoundingDoublingHighMul(a, b) == floor((a * b + 2^30) / 2^31) for every a, b except
//   a == b == INT32_MIN (impossible here: multipliers are non-negative), computed on 64-bit products;
//   RoundingDivideByPOT(x, e) == (x >> e) + ((x & mask) > (mask >> 1) + (x < 0)).
#include "CMagpieKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

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

/// x * multiplier * 2^shift with TFLite's double rounding, 16 lanes at once (per-lane multiplier and shifts).
MQ_INLINE MQ_T __m512i mq_requant(__m512i x, __m512i mult, __m512i lsh, __m512i rsh, __m512i rmask,
                                  __m512i rhalf) {
    x = _mm512_sllv_epi32(x, lsh);
    const __m512i half = _mm512_set1_epi64(1LL << 30);
    __m512i even = _mm512_mul_epi32(x, mult);
    __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(mult, 32));
    even = _mm512_srai_epi64(_mm512_add_epi64(even, half), 31);
    odd = _mm512_srai_epi64(_mm512_add_epi64(odd, half), 31);
    __m512i hi = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    __m512i rem = _mm512_and_si512(hi, rmask);
    __m512i thr = _mm512_sub_epi32(rhalf, _mm512_srai_epi32(hi, 31));
    __m512i q = _mm512_srav_epi32(hi, rsh);
    __mmask16 up = _mm512_cmpgt_epi32_mask(rem, thr);
    return _mm512_mask_sub_epi32(q, up, q, _mm512_set1_epi32(-1));
}

MQ_INLINE MQ_T __mmask16 mq_tail_mask(int32_t remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1u);
}

// MARK: GEMM

enum { MQ_MB = 24 };

/// One MR x (16*NZ) register tile over the whole reduction: A rows are broadcast 4 bytes at a time (uint8), B
/// holds 16 columns x 4 k per vector (int8), VPDPBUSD accumulates 4 products per int32 lane. The epilogue adds the
/// folded bias and the row correction, requantizes, clamps and stores rows below `rows_valid`.
MQ_INLINE MQ_T void mq_tile(const mq_gemm *p, const uint8_t *ap, const int8_t *bp, const int32_t *corr,
                            int32_t col0, int32_t rows_valid, uint8_t *c, const int MR, const int NZ) {
    const int32_t kp = p->kp;
    const size_t bstride = (size_t)kp * 16;
    __m512i acc[24];
    for (int i = 0; i < MR * NZ; i++) acc[i] = _mm512_setzero_si512();
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
    const __m512i zp = _mm512_set1_epi32(p->out_zp);
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi = _mm512_set1_epi32(p->act_max);
    for (int z = 0; z < NZ; z++) {
        const int32_t col = col0 + z * 16;
        if (col >= p->n) break;
        const __mmask16 nm = mq_tail_mask(p->n - col);
        const __m512i bias = _mm512_loadu_si512(p->bias + col), mult = _mm512_loadu_si512(p->mult + col);
        const __m512i lsh = _mm512_loadu_si512(p->lshift + col), rsh = _mm512_loadu_si512(p->rshift + col);
        const __m512i rmask = _mm512_loadu_si512(p->rmask + col), rhalf = _mm512_loadu_si512(p->rhalf + col);
        for (int r = 0; r < MR; r++) {
            if (r >= rows_valid) break;
            __m512i v = _mm512_add_epi32(_mm512_add_epi32(acc[r * NZ + z], bias), _mm512_set1_epi32(corr[r]));
            v = _mm512_add_epi32(mq_requant(v, mult, lsh, rsh, rmask, rhalf), zp);
            v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
            _mm_mask_storeu_epi8(c + (size_t)r * p->c_stride + col, nm, _mm512_cvtepi32_epi8(v));
        }
    }
}

static MQ_T void mq_tile_6x4(const mq_gemm *p, const uint8_t *ap, const int8_t *bp, const int32_t *corr,
                             int32_t col0, int32_t rows, uint8_t *c) { mq_tile(p, ap, bp, corr, col0, rows, c, 6, 4); }
static MQ_T void mq_tile_8x3(const mq_gemm *p, const uint8_t *ap, const int8_t *bp, const int32_t *corr,
                             int32_t col0, int32_t rows, uint8_t *c) { mq_tile(p, ap, bp, corr, col0, rows, c, 8, 3); }
static MQ_T void mq_tile_12x2(const mq_gemm *p, const uint8_t *ap, const int8_t *bp, const int32_t *corr,
                              int32_t col0, int32_t rows, uint8_t *c) { mq_tile(p, ap, bp, corr, col0, rows, c, 12, 2); }
static MQ_T void mq_tile_24x1(const mq_gemm *p, const uint8_t *ap, const int8_t *bp, const int32_t *corr,
                              int32_t col0, int32_t rows, uint8_t *c) { mq_tile(p, ap, bp, corr, col0, rows, c, 24, 1); }

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
    const int32_t mt = task / p->n_tasks, nt = task % p->n_tasks;
    const int32_t mblocks = (p->m + MQ_MB - 1) / MQ_MB;
    const int32_t mb0 = (int32_t)((int64_t)mblocks * mt / p->m_tasks);
    const int32_t mb1 = (int32_t)((int64_t)mblocks * (mt + 1) / p->m_tasks);
    const int32_t nb = p->np / 16;
    // Column blocks are split in groups of 4 (one 64-wide tile).
    const int32_t ng = (nb + 3) / 4;
    const int32_t nb0 = 4 * (int32_t)((int64_t)ng * nt / p->n_tasks);
    int32_t nb1 = 4 * (int32_t)((int64_t)ng * (nt + 1) / p->n_tasks);
    if (nb1 > nb) nb1 = nb;
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

// MARK: Depthwise

/// One output pixel, all channels, 16 at a time: int32 products of the widened input and the widened filter
/// (already minus its zero point); the input zero point is folded into the bias and padded taps read `pad_row`.
MQ_INLINE MQ_T void mq_dw_pixel(const mq_dw *p, const uint8_t *const *taps, const int ntaps, uint8_t *dst,
                                const int is_signed) {
    const int32_t c = p->c, cp = p->cp;
    const __m512i zp = _mm512_set1_epi32(p->out_zp);
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi = _mm512_set1_epi32(p->act_max);
    for (int32_t c0 = 0; c0 < c; c0 += 16) {
        const __mmask16 m = mq_tail_mask(c - c0);
        __m512i acc = _mm512_loadu_si512(p->bias + c0);
        for (int t = 0; t < ntaps; t++) {
            const __m128i raw = _mm_maskz_loadu_epi8(m, taps[t] + c0);
            const __m512i x = is_signed ? _mm512_cvtepi8_epi32(raw) : _mm512_cvtepu8_epi32(raw);
            acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(x, _mm512_loadu_si512(p->w + (size_t)t * cp + c0)));
        }
        __m512i v = mq_requant(acc, _mm512_loadu_si512(p->mult + c0), _mm512_loadu_si512(p->lshift + c0),
                               _mm512_loadu_si512(p->rshift + c0), _mm512_loadu_si512(p->rmask + c0),
                               _mm512_loadu_si512(p->rhalf + c0));
        v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, zp), lo), hi);
        _mm_mask_storeu_epi8(dst + c0, m, _mm512_cvtepi32_epi8(v));
    }
}

MQ_T void mq_dw_rows(const mq_dw *p, int32_t row_begin, int32_t row_end) {
    const uint8_t *taps[64];
    const int ntaps = p->kh * p->kw;
    for (int32_t row = row_begin; row < row_end; row++) {
        const int32_t b = row / p->oh, oy = row % p->oh;
        for (int32_t ox = 0; ox < p->ow; ox++) {
            int t = 0;
            for (int32_t fy = 0; fy < p->kh; fy++) {
                const int32_t y = oy * p->sh - p->ph + p->dh * fy;
                for (int32_t fx = 0; fx < p->kw; fx++, t++) {
                    const int32_t x = ox * p->sw - p->pw + p->dw * fx;
                    taps[t] = (y < 0 || y >= p->ih || x < 0 || x >= p->iw)
                        ? p->pad_row : p->in + (((size_t)b * p->ih + y) * p->iw + x) * p->c;
                }
            }
            uint8_t *dst = p->out + (((size_t)b * p->oh + oy) * p->ow + ox) * p->c;
            if (ntaps == 9) {
                if (p->is_signed) mq_dw_pixel(p, taps, 9, dst, 1); else mq_dw_pixel(p, taps, 9, dst, 0);
            } else {
                if (p->is_signed) mq_dw_pixel(p, taps, ntaps, dst, 1); else mq_dw_pixel(p, taps, ntaps, dst, 0);
            }
        }
    }
}

#else

int mq_cpu_supported(void) { return 0; }
void mq_gemm_task(const mq_gemm *p, int32_t task) { (void)p; (void)task; }
void mq_dw_rows(const mq_dw *p, int32_t row_begin, int32_t row_end) { (void)p; (void)row_begin; (void)row_end; }

#endif

void mq_im2col_rows(const mq_im2col *p, int32_t row_begin, int32_t row_end) {
    const int32_t k = p->kh * p->kw * p->c;
    for (int32_t row = row_begin; row < row_end; row++) {
        const int32_t b = row / (p->oh * p->ow), rem = row % (p->oh * p->ow);
        const int32_t oy = rem / p->ow, ox = rem % p->ow;
        uint8_t *dst = p->out + (size_t)row * p->kp;
        for (int32_t fy = 0; fy < p->kh; fy++) {
            const int32_t y = oy * p->sh - p->ph + p->dh * fy;
            for (int32_t fx = 0; fx < p->kw; fx++) {
                const int32_t x = ox * p->sw - p->pw + p->dw * fx;
                if (y < 0 || y >= p->ih || x < 0 || x >= p->iw) memset(dst, p->pad_value, (size_t)p->c);
                else memcpy(dst, p->in + (((size_t)b * p->ih + y) * p->iw + x) * p->c, (size_t)p->c);
                dst += p->c;
            }
        }
        memset(dst, 0, (size_t)(p->kp - k));
    }
}
