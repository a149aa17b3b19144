// AVX2 kernels for Magpie's quantized (int8 / uint8) convolutions, for x86-64 CPUs without AVX-512 VNNI.
//
// Exactness. Both operands are widened to int16 with their zero points removed: activations `x - zx` and
// filters `w - zw`, each in [-255, 255]. VPMADDWD multiplies pairs of int16 and adds the two products into an
// int32 lane, exactly (|sum| <= 2 * 255 * 255); the accumulation wraps modulo 2^32 like the reference's int32
// accumulator. So the accumulator equals the reference's `sum((x - zx) * (w - zw))` bit for bit, with no
// correction terms; padded taps contribute 0 because padding is `zx`, which becomes 0. The requantization is
// TFLite's double rounding, exact (avx2_common.h).
//
// (The cheaper VPMADDUBSW, unsigned x signed bytes into int16, saturates when two products exceed 32767, so it
// cannot be exact for arbitrary 8-bit data.)
#include "CMagpieKernels.h"
#include "avx2_common.h"
#include <string.h>

#if defined(__x86_64__)

int mq2_cpu_supported(void) { return mq2_cpu_has_avx2(); }

// MARK: Packing

enum { MQ2_MB = 24, MQ2_MR = 6 };

/// Widens `count` bytes to int16 minus the zero point.
MQ2_INLINE MQ2_T void mq2_widen(const uint8_t *src, int16_t *dst, int32_t count, int32_t zp, int is_signed) {
    const __m256i z = _mm256_set1_epi16((int16_t)zp);
    int32_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m128i raw = _mm_loadu_si128((const __m128i *)(src + i));
        const __m256i w = is_signed ? _mm256_cvtepi8_epi16(raw) : _mm256_cvtepu8_epi16(raw);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_sub_epi16(w, z));
    }
    if (is_signed) for (; i < count; i++) dst[i] = (int16_t)((int32_t)(int8_t)src[i] - zp);
    else for (; i < count; i++) dst[i] = (int16_t)((int32_t)src[i] - zp);
}

/// Fills `MQ2_MB` rows of the int16 A block (row stride kp) starting at GEMM row r0: a pointwise row is the
/// input pixel; a windowed row is the receptive field in (fy, fx, c) order with zeros outside the input.
/// Rows past `rows` and the reduction padding are zero.
static MQ2_T void mq2_pack(const mq2_gemm *p, int32_t r0, int32_t rows, int16_t *abuf) {
    const int32_t k = p->k, kp = p->kp;
    for (int32_t r = 0; r < MQ2_MB; r++) {
        int16_t *dst = abuf + (size_t)r * kp;
        if (r >= rows) { memset(dst, 0, (size_t)kp * 2); continue; }
        const int32_t row = r0 + r;
        if (!p->windowed) {
            if (p->is_signed) mq2_widen(p->a + (size_t)row * p->a_stride, dst, k, p->in_zp, 1);
            else mq2_widen(p->a + (size_t)row * p->a_stride, dst, k, p->in_zp, 0);
        } else {
            const int32_t b = row / (p->oh * p->ow), rem = row % (p->oh * p->ow);
            const int32_t oy = rem / p->ow, ox = rem % p->ow;
            int16_t *d = dst;
            for (int32_t fy = 0; fy < p->kh; fy++) {
                const int32_t y = oy * p->sh - p->ph + p->dh * fy;
                for (int32_t fx = 0; fx < p->kw; fx++, d += p->c) {
                    const int32_t x = ox * p->sw - p->pw + p->dw * fx;
                    if (y < 0 || y >= p->ih || x < 0 || x >= p->iw) { memset(d, 0, (size_t)p->c * 2); continue; }
                    const uint8_t *src = p->a + (((size_t)b * p->ih + y) * p->iw + x) * p->c;
                    if (p->is_signed) mq2_widen(src, d, p->c, p->in_zp, 1);
                    else mq2_widen(src, d, p->c, p->in_zp, 0);
                }
            }
        }
        for (int32_t i = k; i < kp; i++) dst[i] = 0;
    }
}

// MARK: Epilogue

/// Requantizes 16 accumulators (columns col..col+15), adds the output zero point, clamps and stores the bytes
/// of the columns below n. Saturating to int16 before adding the zero point (with saturation) and clamping to the
/// 8-bit activation range gives the same bytes as clamping the int32 values, with half the instructions.
MQ2_INLINE MQ2_T void mq2_store16(const mq2_gemm *p, __m256i v0, __m256i v1, int32_t col, uint8_t *dst) {
#define MQ2_LD(a, h) _mm256_loadu_si256((const __m256i *)(p->a + col + 8 * (h)))
    v0 = mq2_requant(_mm256_add_epi32(v0, MQ2_LD(bias, 0)), MQ2_LD(mult, 0), MQ2_LD(lshift, 0), MQ2_LD(rshift, 0),
                     MQ2_LD(rmask, 0), MQ2_LD(rhalf, 0));
    v1 = mq2_requant(_mm256_add_epi32(v1, MQ2_LD(bias, 1)), MQ2_LD(mult, 1), MQ2_LD(lshift, 1), MQ2_LD(rshift, 1),
                     MQ2_LD(rmask, 1), MQ2_LD(rhalf, 1));
#undef MQ2_LD
    __m256i v = _mm256_adds_epi16(_mm256_packs_epi32(v0, v1), _mm256_set1_epi16((int16_t)p->out_zp));
    v = _mm256_min_epi16(_mm256_max_epi16(v, _mm256_set1_epi16((int16_t)p->act_min)),
                         _mm256_set1_epi16((int16_t)p->act_max));
    // VPACKSSDW interleaved the halves: [v0 0-3, v1 0-3 | v0 4-7, v1 4-7]; the byte pack keeps that order, and
    // one 64-bit permute restores 0..15.
    const __m128i l = _mm256_castsi256_si128(v), h = _mm256_extracti128_si256(v, 1);
    __m128i bytes = p->is_signed ? _mm_packs_epi16(l, h) : _mm_packus_epi16(l, h);
    bytes = _mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0));
    const int32_t left = p->n - col;
    if (left >= 16) {
        _mm_storeu_si128((__m128i *)dst, bytes);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, bytes);
        memcpy(dst, tmp, (size_t)left);
    }
}

// MARK: GEMM

/// One MR x 16 register tile over the whole reduction: each step broadcasts one int16 pair of A per row and
/// multiplies it with 16 columns x 2 k of B (two vectors); 2 * MR accumulators.
MQ2_INLINE MQ2_T void mq2_tile(const mq2_gemm *p, const int16_t *ap, const int16_t *bp, int32_t col0,
                               int32_t rows_valid, uint8_t *c, const int MR) {
    const int32_t kp = p->kp;
    __m256i acc[2 * MQ2_MR];
    for (int i = 0; i < 2 * MR; i++) acc[i] = _mm256_setzero_si256();
    for (int32_t g = 0; g < kp; g += 2) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(bp + (size_t)g * 16));
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + (size_t)g * 16 + 16));
        for (int r = 0; r < MR; r++) {
            int32_t pair;
            memcpy(&pair, ap + (size_t)r * kp + g, 4);
            const __m256i a = _mm256_set1_epi32(pair);
            acc[2 * r] = _mm256_add_epi32(acc[2 * r], _mm256_madd_epi16(a, b0));
            acc[2 * r + 1] = _mm256_add_epi32(acc[2 * r + 1], _mm256_madd_epi16(a, b1));
        }
    }
    for (int r = 0; r < MR && r < rows_valid; r++)
        mq2_store16(p, acc[2 * r], acc[2 * r + 1], col0, c + (size_t)r * p->c_stride + col0);
}

static MQ2_T void mq2_tile6(const mq2_gemm *p, const int16_t *ap, const int16_t *bp, int32_t col0,
                            int32_t rows_valid, uint8_t *c) { mq2_tile(p, ap, bp, col0, rows_valid, c, 6); }

MQ2_T void mq2_gemm_task(const mq2_gemm *p, int32_t task) {
    const int32_t mt = task / p->n_tasks, nt = task % p->n_tasks;
    const int32_t mblocks = (p->m + MQ2_MB - 1) / MQ2_MB;
    const int32_t mb0 = (int32_t)((int64_t)mblocks * mt / p->m_tasks);
    const int32_t mb1 = (int32_t)((int64_t)mblocks * (mt + 1) / p->m_tasks);
    const int32_t panels = p->np / 16;
    const int32_t j0 = (int32_t)((int64_t)panels * nt / p->n_tasks);
    const int32_t j1 = (int32_t)((int64_t)panels * (nt + 1) / p->n_tasks);
    const int32_t kp = p->kp;
    int16_t abuf[MQ2_MB * kp] __attribute__((aligned(32)));
    for (int32_t mb = mb0; mb < mb1; mb++) {
        const int32_t r0 = mb * MQ2_MB;
        const int32_t rows = p->m - r0 < MQ2_MB ? p->m - r0 : MQ2_MB;
        mq2_pack(p, r0, rows, abuf);
        uint8_t *c = p->c_out + (size_t)r0 * p->c_stride;
        for (int32_t j = j0; j < j1; j++) {
            const int16_t *bp = p->b + (size_t)j * kp * 16;
            for (int32_t s = 0; s < rows; s += MQ2_MR)
                mq2_tile6(p, abuf + (size_t)s * kp, bp, j * 16, rows - s, c + (size_t)s * p->c_stride);
        }
    }
}

// MARK: Depthwise

/// One output pixel, all channels, 16 at a time. Two taps are interleaved per step (VPUNPCKL/HWD of the widened
/// input bytes) and multiplied with the matching interleaved filter pair by VPMADDWD, so each instruction does 16
/// multiply-adds. The unpacks work within 128-bit halves, so the two accumulators hold channels
/// {0-3, 8-11} and {4-7, 12-15}; the bias and requantization vectors are stored in that order, and VPACKSSDW
/// of the two puts the 16 channels back in order. A partial last block goes through stack copies, so nothing
/// past the tensors is read or written.
MQ2_INLINE MQ2_T void mq2_dw_pixel(const mq2_dw *p, const uint8_t *const *taps, const int pairs, uint8_t *dst,
                                   const int is_signed) {
    const int32_t c = p->c;
    const __m256i zp = _mm256_set1_epi16((int16_t)p->out_zp);
    const __m256i lo = _mm256_set1_epi16((int16_t)p->act_min), hi = _mm256_set1_epi16((int16_t)p->act_max);
    for (int32_t c0 = 0, blk = 0; c0 < c; c0 += 16, blk++) {
        const int full = c - c0 >= 16;
        const int16_t *w = p->w + (size_t)blk * pairs * 32;
        const int32_t *q = p->q + (size_t)blk * 6 * 16;
        __m256i acc0 = _mm256_loadu_si256((const __m256i *)q);
        __m256i acc1 = _mm256_loadu_si256((const __m256i *)(q + 8));
        for (int t = 0; t < pairs; t++) {
            __m128i ra, rb;
            if (full) {
                ra = _mm_loadu_si128((const __m128i *)(taps[2 * t] + c0));
                rb = _mm_loadu_si128((const __m128i *)(taps[2 * t + 1] + c0));
            } else {
                uint8_t ta[16] = {0}, tb[16] = {0};
                memcpy(ta, taps[2 * t] + c0, (size_t)(c - c0));
                memcpy(tb, taps[2 * t + 1] + c0, (size_t)(c - c0));
                ra = _mm_loadu_si128((const __m128i *)ta);
                rb = _mm_loadu_si128((const __m128i *)tb);
            }
            const __m256i xa = is_signed ? _mm256_cvtepi8_epi16(ra) : _mm256_cvtepu8_epi16(ra);
            const __m256i xb = is_signed ? _mm256_cvtepi8_epi16(rb) : _mm256_cvtepu8_epi16(rb);
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + (size_t)t * 32));
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + (size_t)t * 32 + 16));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), w0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), w1));
        }
#define MQ2_LD(i, h) _mm256_loadu_si256((const __m256i *)(q + (i) * 16 + (h) * 8))
        acc0 = mq2_requant(acc0, MQ2_LD(1, 0), MQ2_LD(2, 0), MQ2_LD(3, 0), MQ2_LD(4, 0), MQ2_LD(5, 0));
        acc1 = mq2_requant(acc1, MQ2_LD(1, 1), MQ2_LD(2, 1), MQ2_LD(3, 1), MQ2_LD(4, 1), MQ2_LD(5, 1));
#undef MQ2_LD
        // Saturating to int16, adding the zero point with saturation and clamping to the 8-bit activation range
        // gives the same bytes as clamping the int32 values.
        __m256i v = _mm256_adds_epi16(_mm256_packs_epi32(acc0, acc1), zp);
        v = _mm256_min_epi16(_mm256_max_epi16(v, lo), hi);
        const __m128i l = _mm256_castsi256_si128(v), h = _mm256_extracti128_si256(v, 1);
        const __m128i bytes = is_signed ? _mm_packs_epi16(l, h) : _mm_packus_epi16(l, h);
        if (full) {
            _mm_storeu_si128((__m128i *)(dst + c0), bytes);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, bytes);
            memcpy(dst + c0, tmp, (size_t)(c - c0));
        }
    }
}

MQ2_T void mq2_dw_rows(const mq2_dw *p, int32_t row_begin, int32_t row_end) {
    const uint8_t *taps[66];
    const int ntaps = p->kh * p->kw, pairs = (ntaps + 1) / 2;
    // An odd tap count is paired with a zero filter tap that reads the (always valid) padding row.
    taps[ntaps] = p->pad_row;
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
            if (pairs == 5) {
                if (p->is_signed) mq2_dw_pixel(p, taps, 5, dst, 1); else mq2_dw_pixel(p, taps, 5, dst, 0);
            } else {
                if (p->is_signed) mq2_dw_pixel(p, taps, pairs, dst, 1); else mq2_dw_pixel(p, taps, pairs, dst, 0);
            }
        }
    }
}

#else

int mq2_cpu_supported(void) { return 0; }
void mq2_gemm_task(const mq2_gemm *p, int32_t task) { (void)p; (void)task; }
void mq2_dw_rows(const mq2_dw *p, int32_t row_begin, int32_t row_end) { (void)p; (void)row_begin; (void)row_end; }

#endif
