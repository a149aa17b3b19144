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
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__)

int mq2_cpu_supported(void) { return mq2_cpu_has_avx2(); }

static int mq5_supported = -1;
int mq5_cpu_supported(void) { return mq_cached_check(&mq5_supported, mq2_cpu_has_avx512); }

// MARK: Packing

enum { MQ2_MB = 24, MQ2_MR = 6, MQ2_RQ = MQ2_RQ_INTS };
/// Runs CALL(mode, is_signed) with both as compile-time constants, for `kind` = rq_mode * 2 + is_signed: each
/// kernel is specialised for the requantization mode and the data type.
#define MQ2_BY_KIND(kind, CALL) switch (kind) { \
    case 0: CALL(MQ2_MODE_GENERAL, 0); break; case 1: CALL(MQ2_MODE_GENERAL, 1); break; \
    case 2: CALL(MQ2_MODE_RELU, 0); break; case 3: CALL(MQ2_MODE_RELU, 1); break; \
    case 4: CALL(MQ2_MODE_LINEAR, 0); break; case 5: CALL(MQ2_MODE_LINEAR, 1); break; \
    case 6: CALL(MQ2_MODE_FLOAT, 0); break; default: CALL(MQ2_MODE_FLOAT, 1); break; }

/// The mode of the kernels that are not specialised per mode (tails, rare shapes): FLOAT for FLOAT records, else
/// GENERAL, which is exact for every fixed-point record.
#define MQ2_SLOW_MODE(p) ((p)->rq_mode == MQ2_MODE_FLOAT ? MQ2_MODE_FLOAT : MQ2_MODE_GENERAL)

/// A GEMM of at most MQ2_SMALL_M rows (the 7x7 layers' 49, a classifier's 1) whose widened A fits the usual block
/// buffer (MQ2_MB rows of the largest reduction, 4096) runs as one block: every weight panel is then read once per
/// inference instead of once per block of 24 rows.
enum { MQ2_SMALL_M = 64, MQ2_MAX_KP = 4096 };

/// Widens `count` bytes to int16 minus the zero point. The last partial vector is loaded whole when 16 bytes
/// from it stay below `end` (else it is widened byte by byte) and stored whole: up to 15 int16 past `count` are
/// written, which the caller overwrites or has room for.
MQ2_INLINE MQ2_T void mq2_widen(const uint8_t *src, int16_t *dst, int32_t count, int32_t zp, int is_signed,
                                const uint8_t *end) {
    const __m256i z = _mm256_set1_epi16((int16_t)zp);
    int32_t i = 0;
    for (; i < count; i += 16) {
        if (i + 16 > count && src + i + 16 > end) break;
        const __m128i raw = _mm_loadu_si128((const __m128i *)(src + i));
        const __m256i w = is_signed ? _mm256_cvtepi8_epi16(raw) : _mm256_cvtepu8_epi16(raw);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_sub_epi16(w, z));
    }
    if (is_signed) for (; i < count; i++) dst[i] = (int16_t)((int32_t)(int8_t)src[i] - zp);
    else for (; i < count; i++) dst[i] = (int16_t)((int32_t)src[i] - zp);
}

/// Fills `rows` rows of the int16 A block (row stride kp, 16 int16 of slack after the last row) starting at
/// GEMM row r0: a pointwise row is the input pixel; a windowed row is the receptive field in (fy, fx, c) order with
/// zeros outside the input, one contiguous run per filter row where the window lies inside the input
/// horizontally (dilation 1). Rows are filled in order, so a widened vector's overrun into the next row is
/// overwritten. The reduction padding is zero.
MQ2_INLINE MQ2_T void mq2_pack(const mq2_gemm *p, int32_t r0, int32_t rows, int16_t *abuf, const int is_signed) {
    const int32_t k = p->k, kp = p->kp, c = p->c, zp = p->in_zp;
    const uint8_t *end = p->a + p->a_size;
    int32_t b = 0, oy = 0, ox = 0;
    if (p->windowed) {
        b = r0 / (p->oh * p->ow);
        const int32_t rem = r0 % (p->oh * p->ow);
        oy = rem / p->ow; ox = rem % p->ow;
    }
    for (int32_t r = 0; r < rows; r++) {
        int16_t *dst = abuf + (size_t)r * kp;
        if (!p->windowed) {
            mq2_widen(p->a + (size_t)(r0 + r) * p->a_stride, dst, k, zp, is_signed, end);
        } else {
            int16_t *d = dst;
            const int32_t x0 = ox * p->sw - p->pw;
            const int inside_x = p->dw == 1 && x0 >= 0 && x0 + p->kw <= p->iw;
            const int32_t y0 = oy * p->sh - p->ph;
            if (p->kh == 3 && p->kw * c == 9 && inside_x && p->dh == 1 && y0 >= 0 && y0 + 3 <= p->ih) {
                // A 3x3 window over 3 channels (an image network's first layer): 27 bytes from three 16-byte
                // loads, assembled in registers and stored as two vectors. The general path's three overlapping
                // stores per row made MobileNetV2's first layer 0.52 ms in a C harness, against 0.38 ms this way.
                const uint8_t *l0 = p->a + (((size_t)b * p->ih + y0) * p->iw + x0) * c;
                const size_t line = (size_t)p->iw * c;
                if (l0 + 2 * line + 16 <= end) {
                    const __m128i r0 = _mm_loadu_si128((const __m128i *)l0);
                    const __m128i r1 = _mm_loadu_si128((const __m128i *)(l0 + line));
                    const __m128i r2 = _mm_loadu_si128((const __m128i *)(l0 + 2 * line));
                    const __m128i keep9 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0);
                    const __m128i keep2 = _mm_setr_epi8(-1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
                    const __m128i lo = _mm_or_si128(_mm_and_si128(r0, keep9), _mm_slli_si128(r1, 9));
                    const __m128i hi = _mm_or_si128(_mm_and_si128(_mm_srli_si128(r1, 7), keep2), _mm_slli_si128(r2, 2));
                    const __m256i z = _mm256_set1_epi16((int16_t)zp);
                    const __m256i wl = is_signed ? _mm256_cvtepi8_epi16(lo) : _mm256_cvtepu8_epi16(lo);
                    const __m256i wh = is_signed ? _mm256_cvtepi8_epi16(hi) : _mm256_cvtepu8_epi16(hi);
                    // Elements 27.. (the reduction padding, and the next row's start) are zero.
                    const __m256i keep11 = _mm256_setr_epi16(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0);
                    _mm256_storeu_si256((__m256i *)dst, _mm256_sub_epi16(wl, z));
                    _mm256_storeu_si256((__m256i *)(dst + 16), _mm256_and_si256(_mm256_sub_epi16(wh, z), keep11));
                    if (++ox == p->ow) { ox = 0; if (++oy == p->oh) { oy = 0; b++; } }
                    continue;
                }
            }
            for (int32_t fy = 0; fy < p->kh; fy++) {
                const int32_t y = oy * p->sh - p->ph + p->dh * fy;
                const int32_t run = p->kw * c;
                if (y < 0 || y >= p->ih) { memset(d, 0, (size_t)run * 2); d += run; continue; }
                const uint8_t *line = p->a + ((size_t)b * p->ih + y) * p->iw * c;
                if (inside_x) {
                    mq2_widen(line + (size_t)x0 * c, d, run, zp, is_signed, end);
                    d += run;
                    continue;
                }
                for (int32_t fx = 0; fx < p->kw; fx++, d += c) {
                    const int32_t x = x0 + p->dw * fx;
                    if (x < 0 || x >= p->iw) memset(d, 0, (size_t)c * 2);
                    else mq2_widen(line + (size_t)x * c, d, c, zp, is_signed, end);
                }
            }
            if (++ox == p->ow) { ox = 0; if (++oy == p->oh) { oy = 0; b++; } }
        }
        for (int32_t i = k; i < kp; i++) dst[i] = 0;
    }
}

// MARK: Epilogue

/// TFLite's requantization `MultiplyByQuantizedMultiplier(acc, m, shift) + zp` for 8 lanes (the bias is already
/// in the accumulators), exact, from a prepared record (MQ2_RQ_INTS in CMagpieKernels.h). The double rounding
/// folds into one rounding of a 64-bit value, because floor(floor(a / 2^31) / 2^e) == floor(a / 2^(31 + e)):
///   Q = floor((P + 2^30) / 2^31),  P = (acc << lsh) * m           (SaturatingRoundingDoublingHighMul)
///   R = floor((Q + 2^(e-1) - [Q < 0]) / 2^e)                       (RoundingDivideByPOT, e >= 1; R = Q if e = 0)
///     = floor((P + 2^30 + (2^(e-1) - [P < -2^30]) * 2^31) / 2^(31+e)).
/// AVX2 has no 64-bit arithmetic shift, so 2^62 is added (|P| < 2^62 keeps the sum in [0, 2^64)) and removed
/// afterwards as 2^(31-e), folded into the zero point.
/// Modes (chosen at prepare, MQ2_MODE_*): RELU drops the [Q < 0] tie term, which is exact when the activation
/// clamps every result <= 0 to act_min >= zp (then both roundings give R <= 0); RELU and LINEAR need e >= 1 and no
/// left shift, and shift the odd lanes by e - 1 so their result lands in the upper half of the 64-bit lane
/// directly; GENERAL handles everything.
MQ2_INLINE MQ2_T __m256i mq2_rq(__m256i x, const int32_t *rq, const int mode) {
    const __m256i *v = (const __m256i *)rq;
    if (mode == MQ2_MODE_FLOAT) {
        // XNNPACK's arithmetic (MQ2_MODE_FLOAT records; mq5_rq_float on 8 lanes).
        __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(x), _mm256_castsi256_ps(_mm256_loadu_si256(v + 1)));
        f = _mm256_min_ps(_mm256_max_ps(f, _mm256_castsi256_ps(_mm256_loadu_si256(v + 2))),
                          _mm256_castsi256_ps(_mm256_loadu_si256(v + 3)));
        return _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_loadu_si256(v + 9));
    }
    if (mode == MQ2_MODE_GENERAL) x = _mm256_sllv_epi32(x, _mm256_loadu_si256(v + 10));
    const __m256i pe = _mm256_mul_epi32(x, _mm256_loadu_si256(v + 1));
    const __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_loadu_si256(v + 2));
    __m256i ne = _mm256_add_epi64(pe, _mm256_loadu_si256(v + 3));
    __m256i no = _mm256_add_epi64(po, _mm256_loadu_si256(v + 4));
    if (mode != MQ2_MODE_RELU) {
        const __m256i limit = _mm256_set1_epi64x(-(1LL << 30));
        ne = _mm256_add_epi64(ne, _mm256_and_si256(_mm256_cmpgt_epi64(limit, pe), _mm256_loadu_si256(v + 7)));
        no = _mm256_add_epi64(no, _mm256_and_si256(_mm256_cmpgt_epi64(limit, po), _mm256_loadu_si256(v + 8)));
    }
    ne = _mm256_srlv_epi64(ne, _mm256_loadu_si256(v + 5));
    __m256i r;
    if (mode == MQ2_MODE_GENERAL) {
        no = _mm256_srlv_epi64(no, _mm256_loadu_si256(v + 6));
        r = _mm256_blend_epi32(ne, _mm256_slli_epi64(no, 32), 0xAA);
    } else {
        r = _mm256_blend_epi32(ne, _mm256_srlv_epi64(no, _mm256_loadu_si256(v + 11)), 0xAA);
    }
    return _mm256_add_epi32(r, _mm256_loadu_si256(v + 9));
}

/// Clamps 16 int16 lanes to the activation range, except in LINEAR mode, where the range is the type's and the
/// saturating pack to bytes clamps.
MQ2_INLINE MQ2_T __m256i mq2_clamp16(__m256i v, int32_t act_min, int32_t act_max, const int mode) {
    if (mode == MQ2_MODE_LINEAR || mode == MQ2_MODE_FLOAT) return v;
    return _mm256_min_epi16(_mm256_max_epi16(v, _mm256_set1_epi16((int16_t)act_min)),
                            _mm256_set1_epi16((int16_t)act_max));
}

/// Packs 16 requantized int32 values (v0: 8 lanes, v1: 8 lanes) to bytes: saturating to int16 and clamping to the
/// 8-bit activation range gives the same bytes as clamping the int32 values, with half the instructions; LINEAR
/// mode (activation range = the type's range) lets the saturating packs clamp. The bytes come out in the order
/// [v0 0-3, v1 0-3, v0 4-7, v1 4-7] (VPACKSSDW works within 128-bit halves).
MQ2_INLINE MQ2_T __m128i mq2_pack16(__m256i v0, __m256i v1, int32_t act_min, int32_t act_max, const int mode,
                                    const int is_signed) {
    const __m256i v = mq2_clamp16(_mm256_packs_epi32(v0, v1), act_min, act_max, mode);
    const __m128i l = _mm256_castsi256_si128(v), h = _mm256_extracti128_si256(v, 1);
    return is_signed ? _mm_packs_epi16(l, h) : _mm_packus_epi16(l, h);
}

/// Requantizes 16 accumulators (columns col..col+15) and stores the bytes of the columns below n.
MQ2_INLINE MQ2_T void mq2_store16(const mq2_gemm *p, __m256i v0, __m256i v1, int32_t col, uint8_t *dst,
                                  const int mode, const int is_signed) {
    const int32_t *rq = p->rq + (size_t)(col / 8) * MQ2_RQ;
    // One 32-bit shuffle restores the column order 0..15 after mq2_pack16.
    const __m128i bytes = _mm_shuffle_epi32(
        mq2_pack16(mq2_rq(v0, rq, mode), mq2_rq(v1, rq + MQ2_RQ, mode), p->act_min, p->act_max, mode, is_signed),
        _MM_SHUFFLE(3, 1, 2, 0));
    const int32_t left = p->n - col;
    if (left >= 16) {
        _mm_storeu_si128((__m128i *)dst, bytes);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, bytes);
        memcpy(dst, tmp, (size_t)left);
    }
}

/// Requantizes 8 accumulators (columns col..col+7) and stores the bytes of the columns below n (at most 8).
MQ2_INLINE MQ2_T void mq2_store8(const mq2_gemm *p, __m256i v0, int32_t col, uint8_t *dst, const int mode,
                                 const int is_signed) {
    const __m256i r = mq2_rq(v0, p->rq + (size_t)(col / 8) * MQ2_RQ, mode);
    // mq2_pack16 of (r, r) gives [0-3, 0-3, 4-7, 4-7]; the shuffle puts columns 0-7 in the low 8 bytes.
    const __m128i bytes = _mm_shuffle_epi32(mq2_pack16(r, r, p->act_min, p->act_max, mode, is_signed),
                                            _MM_SHUFFLE(3, 1, 2, 0));
    uint8_t tmp[16];
    _mm_storeu_si128((__m128i *)tmp, bytes);
    memcpy(dst, tmp, (size_t)(p->n - col < 8 ? p->n - col : 8));
}

/// Requantizes two rows of 16 accumulators (row 0: v0, v1; row 1: w0, w1, columns col..col+15, all below n) and
/// stores 16 bytes per row: one VPACKSS/USWB and one VPERMD for both rows instead of the two packs, extract and
/// shuffle per row of mq2_store16.
MQ2_INLINE MQ2_T void mq2_store16x2(const mq2_gemm *p, __m256i v0, __m256i v1, __m256i w0, __m256i w1, int32_t col,
                                    uint8_t *dst0, uint8_t *dst1, const int mode, const int is_signed) {
    const int32_t *rq = p->rq + (size_t)(col / 8) * MQ2_RQ;
    const __m256i a = mq2_clamp16(_mm256_packs_epi32(mq2_rq(v0, rq, mode), mq2_rq(v1, rq + MQ2_RQ, mode)),
                                  p->act_min, p->act_max, mode);
    const __m256i b = mq2_clamp16(_mm256_packs_epi32(mq2_rq(w0, rq, mode), mq2_rq(w1, rq + MQ2_RQ, mode)),
                                  p->act_min, p->act_max, mode);
    // Dwords of the packed bytes: [a c0-3, a c8-11, b c0-3, b c8-11 | a c4-7, a c12-15, b c4-7, b c12-15].
    const __m256i bytes = is_signed ? _mm256_packs_epi16(a, b) : _mm256_packus_epi16(a, b);
    const __m256i rows = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm_storeu_si128((__m128i *)dst0, _mm256_castsi256_si128(rows));
    _mm_storeu_si128((__m128i *)dst1, _mm256_extracti128_si256(rows, 1));
}

// MARK: GEMM

/// One MR x 16 register tile over the whole reduction: each step broadcasts one int16 pair of A per row and
/// multiplies it with 16 columns x 2 k of B (two vectors); 2 * MR accumulators, which start at the bias. W = 1
/// computes only the panel's first 8 columns (a last panel of at most 8, as in MobileNetV2's 24-channel
/// projections), with MR accumulators.
MQ2_INLINE MQ2_T void mq2_tile(const mq2_gemm *p, const int16_t *ap, const int16_t *bp, int32_t col0,
                               int32_t rows_valid, uint8_t *c, const int MR, const int mode, const int is_signed,
                               const int W) {
    const int32_t kp = p->kp;
    const int32_t *rq = p->rq + (size_t)(col0 / 8) * MQ2_RQ;
    const __m256i bias0 = _mm256_loadu_si256((const __m256i *)rq);
    const __m256i bias1 = _mm256_loadu_si256((const __m256i *)(rq + MQ2_RQ));
    __m256i acc[2 * MQ2_MR];
    for (int r = 0; r < MR; r++) { acc[2 * r] = bias0; acc[2 * r + 1] = bias1; }
    for (int32_t g = 0; g < kp; g += 2) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(bp + (size_t)g * 16));
        const __m256i b1 = W == 2 ? _mm256_loadu_si256((const __m256i *)(bp + (size_t)g * 16 + 16)) : b0;
        for (int r = 0; r < MR; r++) {
            int32_t pair;
            memcpy(&pair, ap + (size_t)r * kp + g, 4);
            const __m256i a = _mm256_set1_epi32(pair);
            acc[2 * r] = _mm256_add_epi32(acc[2 * r], _mm256_madd_epi16(a, b0));
            if (W == 2) acc[2 * r + 1] = _mm256_add_epi32(acc[2 * r + 1], _mm256_madd_epi16(a, b1));
        }
    }
    if (W == 1) {
        for (int r = 0; r < MR && r < rows_valid; r++)
            mq2_store8(p, acc[2 * r], col0, c + (size_t)r * p->c_stride + col0, mode, is_signed);
        return;
    }
    if (rows_valid >= MR && p->n - col0 >= 16) {
        // Whole tile, whole panel: rows in pairs (constant indices, so the accumulators stay in registers), an odd
        // last row alone.
#pragma clang loop unroll(full)
        for (int r = 0; r + 1 < MR; r += 2)
            mq2_store16x2(p, acc[2 * r], acc[2 * r + 1], acc[2 * r + 2], acc[2 * r + 3], col0,
                          c + (size_t)r * p->c_stride + col0, c + (size_t)(r + 1) * p->c_stride + col0, mode,
                          is_signed);
        if (MR % 2)
            mq2_store16(p, acc[2 * MR - 2], acc[2 * MR - 1], col0, c + (size_t)(MR - 1) * p->c_stride + col0, mode,
                        is_signed);
        return;
    }
    for (int r = 0; r < MR && r < rows_valid; r++)
        mq2_store16(p, acc[2 * r], acc[2 * r + 1], col0, c + (size_t)r * p->c_stride + col0, mode, is_signed);
}

/// The 6- or 5-row tile (`height`) specialised for the requantization mode, the data type and the panel's width (16
/// columns, or at most 8 in a last panel).
static MQ2_T void mq2_tile_full(const mq2_gemm *p, const int16_t *ap, const int16_t *bp, int32_t col0,
                                int32_t height, uint8_t *c) {
    const int kind = p->rq_mode * 2 + (p->is_signed ? 1 : 0);
#define MQ2_T6W(mode, s) mq2_tile(p, ap, bp, col0, 6, c, 6, mode, s, 2)
#define MQ2_T6N(mode, s) mq2_tile(p, ap, bp, col0, 6, c, 6, mode, s, 1)
#define MQ2_T5W(mode, s) mq2_tile(p, ap, bp, col0, 5, c, 5, mode, s, 2)
#define MQ2_T5N(mode, s) mq2_tile(p, ap, bp, col0, 5, c, 5, mode, s, 1)
    const int wide = p->n - col0 > 8;
    if (height == 6) {
        if (wide) { MQ2_BY_KIND(kind, MQ2_T6W) } else { MQ2_BY_KIND(kind, MQ2_T6N) }
    } else {
        if (wide) { MQ2_BY_KIND(kind, MQ2_T5W) } else { MQ2_BY_KIND(kind, MQ2_T5N) }
    }
#undef MQ2_T6W
#undef MQ2_T6N
#undef MQ2_T5W
#undef MQ2_T5N
}

/// A tile of 1 to 4 rows (the last rows of a block too short for 5-row tiles, or a GEMM of fewer than 5 rows such as
/// a 1x1 convolution on a single pixel), so that missing rows cost nothing. GENERAL mode (FLOAT for FLOAT records):
/// exact for every layer, and these tiles are rare.
static MQ2_T void mq2_tile_tail(const mq2_gemm *p, const int16_t *ap, const int16_t *bp, int32_t col0,
                                int32_t rows, uint8_t *c) {
    const int s = p->is_signed ? 1 : 0, w = p->n - col0 > 8 ? 2 : 1, mode = MQ2_SLOW_MODE(p);
#define MQ2_TAIL(R) if (w == 2) { \
        if (s) mq2_tile(p, ap, bp, col0, R, c, R, mode, 1, 2); \
        else mq2_tile(p, ap, bp, col0, R, c, R, mode, 0, 2); \
    } else { \
        if (s) mq2_tile(p, ap, bp, col0, R, c, R, mode, 1, 1); \
        else mq2_tile(p, ap, bp, col0, R, c, R, mode, 0, 1); \
    } break;
    switch (rows) {
    case 1: MQ2_TAIL(1)
    case 2: MQ2_TAIL(2)
    case 3: MQ2_TAIL(3)
    default: MQ2_TAIL(4)
    }
#undef MQ2_TAIL
}

/// Rows [r0, r0 + rows) of A are in `abuf`: every tile of them against panels [j0, j1).
MQ2_INLINE MQ2_T void mq2_block(const mq2_gemm *p, const int16_t *abuf, int32_t r0, int32_t rows, int32_t j0,
                                int32_t j1) {
    const int32_t kp = p->kp;
    uint8_t *c = p->c_out + (size_t)r0 * p->c_stride;
    // Leading tiles of 5 rows where that avoids a last tile of 1-4 (GENERAL mode, and too few rows to keep the
    // multipliers busy): the 7x7 layers' 49 rows go as 5 x 5 + 4 x 6 instead of 8 x 6 + 1.
    const int32_t short_tiles = rows % MQ2_MR == 0 ? 0 : MQ2_MR - rows % MQ2_MR;
    const int32_t fives = rows >= 5 * short_tiles ? 5 * short_tiles : 0;
#define MQ2_TILE_HEIGHT(s) ((s) < fives ? 5 : rows - (s) < MQ2_MR ? rows - (s) : MQ2_MR)
    for (int32_t j = j0; j < j1; j++) {
        const int16_t *bp = p->b + (size_t)j * kp * 16;
        for (int32_t s = 0; s < rows; s += MQ2_TILE_HEIGHT(s)) {
            if (MQ2_TILE_HEIGHT(s) >= 5)
                mq2_tile_full(p, abuf + (size_t)s * kp, bp, j * 16, MQ2_TILE_HEIGHT(s), c + (size_t)s * p->c_stride);
            else
                mq2_tile_tail(p, abuf + (size_t)s * kp, bp, j * 16, rows - s, c + (size_t)s * p->c_stride);
        }
    }
#undef MQ2_TILE_HEIGHT
}

/// The one-row GEMM on the byte filter (`b8`): panels [j0, j1) against the widened row `a`. Per step, one 32-byte
/// load gives 16 columns x 2 k, widened to the two int16 vectors of the `b` layout.
MQ2_INLINE MQ2_T void mq2_row_bytes(const mq2_gemm *p, const int16_t *a, int32_t j0, int32_t j1, const int is_signed) {
    const int32_t kp = p->kp;
    const __m256i zw = _mm256_set1_epi16((int16_t)p->b8_zp);
    for (int32_t j = j0; j < j1; j++) {
        const uint8_t *bp = p->b8 + (size_t)j * kp * 16;
        const int32_t *rq = p->rq + (size_t)j * 2 * MQ2_RQ;
        __m256i acc0 = _mm256_loadu_si256((const __m256i *)rq);
        __m256i acc1 = _mm256_loadu_si256((const __m256i *)(rq + MQ2_RQ));
        for (int32_t g = 0; g < kp; g += 2) {
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(bp + (size_t)g * 16));
            const __m128i lo = _mm256_castsi256_si128(raw), hi = _mm256_extracti128_si256(raw, 1);
            const __m256i b0 = _mm256_sub_epi16(is_signed ? _mm256_cvtepi8_epi16(lo) : _mm256_cvtepu8_epi16(lo), zw);
            const __m256i b1 = _mm256_sub_epi16(is_signed ? _mm256_cvtepi8_epi16(hi) : _mm256_cvtepu8_epi16(hi), zw);
            int32_t pair;
            memcpy(&pair, a + g, 4);
            const __m256i x = _mm256_set1_epi32(pair);
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x, b0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x, b1));
        }
        mq2_store16(p, acc0, acc1, j * 16, p->c_out + j * 16, MQ2_SLOW_MODE(p), is_signed);
    }
}

MQ2_T void mq2_gemm_task(const mq2_gemm *p, int32_t task) {
    const int32_t mt = task / p->n_tasks, nt = task % p->n_tasks;
    const int32_t panels = p->np / 16;
    const int32_t j0 = (int32_t)((int64_t)panels * nt / p->n_tasks);
    const int32_t j1 = (int32_t)((int64_t)panels * (nt + 1) / p->n_tasks);
    const int32_t kp = p->kp;
    // A byte filter (b8) is only ever prepared for m == 1, which is always one block.
    const int whole = p->b8 != NULL
        || (p->m_tasks == 1 && p->m <= MQ2_SMALL_M && (int64_t)p->m * kp <= (int64_t)MQ2_MB * MQ2_MAX_KP);
    int16_t abuf[(whole && p->m > MQ2_MB ? p->m : MQ2_MB) * kp + 16] __attribute__((aligned(32)));
    if (whole) {
        if (p->is_signed) mq2_pack(p, 0, p->m, abuf, 1); else mq2_pack(p, 0, p->m, abuf, 0);
        if (p->b8 != NULL) {
            if (p->is_signed) mq2_row_bytes(p, abuf, j0, j1, 1); else mq2_row_bytes(p, abuf, j0, j1, 0);
        } else {
            mq2_block(p, abuf, 0, p->m, j0, j1);
        }
        return;
    }
    const int32_t mblocks = (p->m + MQ2_MB - 1) / MQ2_MB;
    const int32_t mb0 = (int32_t)((int64_t)mblocks * mt / p->m_tasks);
    const int32_t mb1 = (int32_t)((int64_t)mblocks * (mt + 1) / p->m_tasks);
    for (int32_t mb = mb0; mb < mb1; mb++) {
        const int32_t r0 = mb * MQ2_MB;
        const int32_t rows = p->m - r0 < MQ2_MB ? p->m - r0 : MQ2_MB;
        if (p->is_signed) mq2_pack(p, r0, rows, abuf, 1); else mq2_pack(p, r0, rows, abuf, 0);
        mq2_block(p, abuf, r0, rows, j0, j1);
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
                                   const int is_signed, const int mode) {
    const int32_t c = p->c;
    for (int32_t c0 = 0, blk = 0; c0 < c; c0 += 16, blk++) {
        const int full = c - c0 >= 16;
        const int16_t *w = p->w + (size_t)blk * pairs * 32;
        const int32_t *rq = p->rq + (size_t)blk * 2 * MQ2_RQ;
        __m256i acc0 = _mm256_loadu_si256((const __m256i *)rq);
        __m256i acc1 = _mm256_loadu_si256((const __m256i *)(rq + MQ2_RQ));
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
        // The accumulators hold channels {0-3, 8-11} and {4-7, 12-15}: mq2_pack16 puts them back in order.
        const __m128i bytes = mq2_pack16(mq2_rq(acc0, rq, mode), mq2_rq(acc1, rq + MQ2_RQ, mode), p->act_min,
                                         p->act_max, mode, is_signed);
        if (full) {
            _mm_storeu_si128((__m128i *)(dst + c0), bytes);
        } else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, bytes);
            memcpy(dst + c0, tmp, (size_t)(c - c0));
        }
    }
}

/// One pixel with the kernel variant for the window size and requantization flags.
MQ2_INLINE MQ2_T void mq2_dw_dispatch(const mq2_dw *p, const uint8_t *const *taps, int pairs, uint8_t *dst) {
    // Specialised for the common 3x3 window, int8 or uint8, and the requantization mode.
    if (pairs != 5) {
        mq2_dw_pixel(p, taps, pairs, dst, p->is_signed, MQ2_SLOW_MODE(p));
        return;
    }
#define MQ2_PIXEL(mode, s) mq2_dw_pixel(p, taps, 5, dst, s, mode)
    MQ2_BY_KIND(p->rq_mode * 2 + (p->is_signed ? 1 : 0), MQ2_PIXEL)
#undef MQ2_PIXEL
}

/// One input column of a 3x3 window, 16 channels, widened and interleaved for VPMADDWD: rows 0 and 1 as pairs
/// (`lo01`: channels {0-3, 8-11}, `hi01`: {4-7, 12-15}) and row 2 paired with zero (`lo2`, `hi2`).
typedef struct { __m256i lo01, hi01, lo2, hi2; } mq2_col3;

MQ2_INLINE MQ2_T mq2_col3 mq2_dw_col3(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const int is_signed) {
    const __m128i a = _mm_loadu_si128((const __m128i *)r0), b = _mm_loadu_si128((const __m128i *)r1);
    const __m128i c = _mm_loadu_si128((const __m128i *)r2);
    const __m256i xa = is_signed ? _mm256_cvtepi8_epi16(a) : _mm256_cvtepu8_epi16(a);
    const __m256i xb = is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
    const __m256i xc = is_signed ? _mm256_cvtepi8_epi16(c) : _mm256_cvtepu8_epi16(c);
    const __m256i zero = _mm256_setzero_si256();
    mq2_col3 col;
    col.lo01 = _mm256_unpacklo_epi16(xa, xb);
    col.hi01 = _mm256_unpackhi_epi16(xa, xb);
    col.lo2 = _mm256_unpacklo_epi16(xc, zero);
    col.hi2 = _mm256_unpackhi_epi16(xc, zero);
    return col;
}

/// `count` neighbouring outputs of one row of a 3x3, dilation-1 depthwise convolution, from input rows
/// `row0..row2` (each a whole input row; a row above or below the input is `pad_row`). Output i reads input
/// columns x0 + i * STRIDE + {0, 1, 2}; a column left or right of the input reads `pad_row` too, so the run
/// covers whole output rows, borders included. Each column is widened and interleaved once and shared by the
/// outputs that read it (3 with stride 1, 1.5 on average with stride 2), which is what makes this cheaper than
/// the per-pixel kernel. Channel blocks are the outer loop, so the twelve filter vectors stay in registers or L1.
/// Needs c to be a multiple of 16; channels from `cstart` (a multiple of 16).
MQ2_INLINE MQ2_T void mq2_dw_run3(const mq2_dw *p, const uint8_t *row0, const uint8_t *row1, const uint8_t *row2,
                                  int32_t x0, int32_t count, uint8_t *dst, int32_t cstart, const int STRIDE,
                                  const int is_signed, const int mode) {
    const int32_t c = p->c;
    const uint32_t iw = (uint32_t)p->iw;
    for (int32_t c0 = cstart, blk = cstart / 16; c0 < c; c0 += 16, blk++) {
        const __m256i *w = (const __m256i *)(p->w3 + (size_t)blk * 6 * 32);
        const uint8_t *pad = p->pad_row + c0;
        const int32_t *rq = p->rq + (size_t)blk * 2 * MQ2_RQ;
        const __m256i bias0 = _mm256_loadu_si256((const __m256i *)rq);
        const __m256i bias1 = _mm256_loadu_si256((const __m256i *)(rq + MQ2_RQ));
#define MQ2_COL(x) ((uint32_t)(x) < iw                                                                           \
                        ? mq2_dw_col3(row0 + (size_t)(x) * c + c0, row1 + (size_t)(x) * c + c0,                  \
                                      row2 + (size_t)(x) * c + c0, is_signed)                                    \
                        : mq2_dw_col3(pad, pad, pad, is_signed))
        mq2_col3 a = MQ2_COL(x0), b = a;
        if (STRIDE == 1) b = MQ2_COL(x0 + 1);
        uint8_t *out = dst + c0;
        for (int32_t i = 0, x = x0; i < count; i++, x += STRIDE, out += c) {
            if (STRIDE != 1) b = MQ2_COL(x + 1);
            const mq2_col3 n = MQ2_COL(x + 2);
            __m256i acc0 = _mm256_add_epi32(bias0, _mm256_madd_epi16(a.lo01, _mm256_loadu_si256(w + 0)));
            __m256i acc1 = _mm256_add_epi32(bias1, _mm256_madd_epi16(a.hi01, _mm256_loadu_si256(w + 1)));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(b.lo01, _mm256_loadu_si256(w + 2)));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(b.hi01, _mm256_loadu_si256(w + 3)));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(n.lo01, _mm256_loadu_si256(w + 4)));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(n.hi01, _mm256_loadu_si256(w + 5)));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a.lo2, _mm256_loadu_si256(w + 6)));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(a.hi2, _mm256_loadu_si256(w + 7)));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(b.lo2, _mm256_loadu_si256(w + 8)));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(b.hi2, _mm256_loadu_si256(w + 9)));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(n.lo2, _mm256_loadu_si256(w + 10)));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(n.hi2, _mm256_loadu_si256(w + 11)));
            _mm_storeu_si128((__m128i *)out, mq2_pack16(mq2_rq(acc0, rq, mode), mq2_rq(acc1, rq + MQ2_RQ, mode),
                                                        p->act_min, p->act_max, mode, is_signed));
            if (STRIDE == 1) { a = b; b = n; } else { a = n; }
        }
#undef MQ2_COL
    }
}

// MARK: AVX-512 (F, BW, VL, DQ) variant of the 3x3 depthwise run

/// One input column of a 3x3 window, 32 channels, as mq2_dw_col3 makes it for two 16-channel blocks side by side.
typedef struct { __m512i lo01, hi01, lo2, hi2; } mq5_col3;

MQ2_INLINE MQ5_T mq5_col3 mq5_dw_col3(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const int is_signed) {
    const __m256i a = _mm256_loadu_si256((const __m256i *)r0), b = _mm256_loadu_si256((const __m256i *)r1);
    const __m256i c = _mm256_loadu_si256((const __m256i *)r2);
    const __m512i xa = is_signed ? _mm512_cvtepi8_epi16(a) : _mm512_cvtepu8_epi16(a);
    const __m512i xb = is_signed ? _mm512_cvtepi8_epi16(b) : _mm512_cvtepu8_epi16(b);
    const __m512i xc = is_signed ? _mm512_cvtepi8_epi16(c) : _mm512_cvtepu8_epi16(c);
    const __m512i zero = _mm512_setzero_si512();
    mq5_col3 col;
    col.lo01 = _mm512_unpacklo_epi16(xa, xb);
    col.hi01 = _mm512_unpackhi_epi16(xa, xb);
    col.lo2 = _mm512_unpacklo_epi16(xc, zero);
    col.hi2 = _mm512_unpackhi_epi16(xc, zero);
    return col;
}

/// mq2_dw_run3 for the channels [0, c32) (c32 a multiple of 32), 32 per step: two of mq2_dw_run3's 16-channel
/// blocks side by side in each 512-bit vector (`w5`, `rq5`) (VPUNPCKL/HWD and VPACKSSDW work within 128-bit lanes, so each block
/// keeps the AVX2 kernel's lane order, filters and requantization records), the same integer arithmetic and so
/// the same bytes. The int16 results are clamped to the activation range in every mode (in LINEAR mode that is
/// the type's range, which the AVX2 kernel's saturating pack gives) and narrowed by VPMOVWB.
MQ2_INLINE MQ5_T void mq5_dw_run3(const mq2_dw *p, const uint8_t *row0, const uint8_t *row1, const uint8_t *row2,
                                  int32_t x0, int32_t count, uint8_t *dst, int32_t c32, const int STRIDE,
                                  const int is_signed, const int mode) {
    const int32_t c = p->c;
    const uint32_t iw = (uint32_t)p->iw;
    // The activation range within the type's (what the AVX2 kernel's saturating packs leave).
    const int32_t tmin = is_signed ? -128 : 0, tmax = is_signed ? 127 : 255;
    const __m512i amin = _mm512_set1_epi16((int16_t)(p->act_min > tmin ? p->act_min : tmin));
    const __m512i amax = _mm512_set1_epi16((int16_t)(p->act_max < tmax ? p->act_max : tmax));
    for (int32_t c0 = 0, blk = 0; c0 < c32; c0 += 32, blk++) {
        const __m512i *w = (const __m512i *)(p->w5 + (size_t)blk * 12 * 32);
        const __m512i *r0 = (const __m512i *)(p->rq5 + (size_t)blk * 24 * 16), *r1 = r0 + 12;
        const __m512i bias0 = _mm512_loadu_si512(r0), bias1 = _mm512_loadu_si512(r1);
        // 32-bit shifts for modes RELU and LINEAR (mq5_rq_hi).
        const __m512i sh0 = mode == MQ2_MODE_GENERAL ? _mm512_setzero_si512() : mq5_rq_shifts(r0);
        const __m512i sh1 = mode == MQ2_MODE_GENERAL ? _mm512_setzero_si512() : mq5_rq_shifts(r1);
        const uint8_t *pad = p->pad_row + c0;
        // Column x of the three rows; a column left or right of the input reads the padding row.
#define MQ5_COL(x) ((uint32_t)(x) < iw                                                                           \
                        ? mq5_dw_col3(row0 + (size_t)(x) * c + c0, row1 + (size_t)(x) * c + c0,                  \
                                      row2 + (size_t)(x) * c + c0, is_signed)                                    \
                        : mq5_dw_col3(pad, pad, pad, is_signed))
        mq5_col3 a = MQ5_COL(x0), b = a;
        if (STRIDE == 1) b = MQ5_COL(x0 + 1);
        uint8_t *out = dst + c0;
        for (int32_t i = 0, x = x0; i < count; i++, x += STRIDE, out += c) {
            if (STRIDE != 1) b = MQ5_COL(x + 1);
            const mq5_col3 n = MQ5_COL(x + 2);
            __m512i acc0 = _mm512_add_epi32(bias0, _mm512_madd_epi16(a.lo01, _mm512_loadu_si512(w + 0)));
            __m512i acc1 = _mm512_add_epi32(bias1, _mm512_madd_epi16(a.hi01, _mm512_loadu_si512(w + 1)));
            acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(b.lo01, _mm512_loadu_si512(w + 2)));
            acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(b.hi01, _mm512_loadu_si512(w + 3)));
            acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(n.lo01, _mm512_loadu_si512(w + 4)));
            acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(n.hi01, _mm512_loadu_si512(w + 5)));
            acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(a.lo2, _mm512_loadu_si512(w + 6)));
            acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(a.hi2, _mm512_loadu_si512(w + 7)));
            acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(b.lo2, _mm512_loadu_si512(w + 8)));
            acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(b.hi2, _mm512_loadu_si512(w + 9)));
            acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(n.lo2, _mm512_loadu_si512(w + 10)));
            acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(n.hi2, _mm512_loadu_si512(w + 11)));
            __m512i v = mode == MQ2_MODE_GENERAL
                            ? _mm512_packs_epi32(mq5_rq(acc0, r0, mode), mq5_rq(acc1, r1, mode))
                            : _mm512_packs_epi32(mq5_rq_hi(acc0, r0, sh0, mode), mq5_rq_hi(acc1, r1, sh1, mode));
            v = _mm512_min_epi16(_mm512_max_epi16(v, amin), amax);
            _mm256_storeu_si256((__m256i *)out, _mm512_cvtepi16_epi8(v));
            if (STRIDE == 1) { a = b; b = n; } else { a = n; }
        }
#undef MQ5_COL
    }
}

/// mq5_dw_run3 specialised for the stride, data type and requantization mode.
static MQ5_T __attribute__((noinline)) void mq5_dw_run3_dispatch(const mq2_dw *p, const uint8_t *row0,
                                                                 const uint8_t *row1, const uint8_t *row2,
                                                                 int32_t x0, int32_t count, uint8_t *dst,
                                                                 int32_t c32) {
    const int kind = p->rq_mode * 2 + (p->is_signed ? 1 : 0);
#define MQ5_RUN3_S1(mode, s) mq5_dw_run3(p, row0, row1, row2, x0, count, dst, c32, 1, s, mode)
#define MQ5_RUN3_S2(mode, s) mq5_dw_run3(p, row0, row1, row2, x0, count, dst, c32, 2, s, mode)
    if (p->sw == 1) { MQ2_BY_KIND(kind, MQ5_RUN3_S1) } else { MQ2_BY_KIND(kind, MQ5_RUN3_S2) }
#undef MQ5_RUN3_S1
#undef MQ5_RUN3_S2
}

// MARK: VNNI variant of the 3x3 depthwise run

#define MQV_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi")))
/// Loops over a run's 16-channel blocks are unrolled by pragma (SwiftPM compiles C at -O2).
#define MQV_UNROLL _Pragma("clang loop unroll(full)")

/// One input column of a 3x3 window for 16 channels, as VPDPBUSD takes it: lane j holds channel j's bytes of rows
/// 0, 1 and 2 (int8: flipped to uint8) and a fourth byte that meets a zero filter byte. Three 16-byte loads, one
/// VPERMB.
MQ2_INLINE MQV_T __m512i mqv_dw_col3(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, __m512i idx,
                                     const int flip) {
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)r0));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)r1), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)r2), 2);
    v = _mm512_permutexvar_epi8(idx, v);
    return flip ? _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80)) : v;
}

/// The 3x3 depthwise run on VNNI (`wv`, `rqv`): per output pixel and 16 channels three VPDPBUSD,
/// one per input column, each column built once and shared by the outputs that read it (three with stride 1),
/// instead of widening to int16 and two VPMADDWD + VPADDD per column pair. The bias holds `-(128 + zx) * sum(w)`
/// for the flip; the requantization records are in channel order, so the bytes are the reference's. uint8 data
/// (`U8`) is not flipped: the filter is stored minus 128, and each input column also gets its correction
/// `(128 - zw) * (x0 + x1 + x2)` per channel, one VPDPBUSD against `wv_corr` bytes, shared like the column.
/// NV blocks of 16 channels (1 or 2) per step from channel c0; two are narrowed together (VPACKSSDW, VPACKSSWB
/// or VPACKUSWB, VPERMD) into one 32-byte store.
MQ2_INLINE MQV_T void mqv_dw_run3(const mq2_dw *p, const uint8_t *row0, const uint8_t *row1, const uint8_t *row2,
                                  int32_t x0, int32_t count, uint8_t *dst, int32_t c0, const int NV,
                                  const int STRIDE, const int mode, const int U8) {
    const int32_t c = p->c;
    const uint32_t iw = (uint32_t)p->iw;
    uint8_t order[64];
    for (int j = 0; j < 16; j++) {
        order[4 * j] = (uint8_t)j;
        order[4 * j + 1] = (uint8_t)(16 + j);
        order[4 * j + 2] = (uint8_t)(32 + j);
        order[4 * j + 3] = 48;  // bytes 48-63 of the loaded vector: anything; the filter byte is zero
    }
    const __m512i idx = _mm512_loadu_si512((const void *)order);
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi = _mm512_set1_epi32(p->act_max);
    const __m256i blo = _mm256_set1_epi8((char)p->act_min), bhi = _mm256_set1_epi8((char)p->act_max);
    // The byte clamp is needed unless the activation range is the type's (as in mq_gemm_task's tiles).
    // FLOAT mode: the two-block path clamps from above in float (mq5_rq_float_packed) and needs the byte clamp for
    // act_min only.
    const int clamps = mode == MQ2_MODE_FLOAT ? (U8 ? p->act_min > 0 : p->act_min > -128)
                       : mode != MQ2_MODE_LINEAR &&
                         (U8 ? p->act_min > 0 || p->act_max < 255 : p->act_min > -128 || p->act_max < 127);
    const __m512i zp16 = mode == MQ2_MODE_FLOAT ? mq5_float_zero_point(p->rqv) : _mm512_setzero_si512();
    const uint32_t cz = (uint8_t)(int8_t)p->wv_corr;
    const __m512i corr = _mm512_set1_epi32((int32_t)(cz | cz << 8 | cz << 16));
    const __m512i dwords = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512i w[2][3], bias[2], shifts[2];
    const __m512i *r[2];
    MQV_UNROLL for (int v = 0; v < NV; v++) {
        const __m512i *wp = (const __m512i *)(p->wv + (size_t)(c0 + 16 * v) * 12);
        MQV_UNROLL for (int k = 0; k < 3; k++) w[v][k] = _mm512_loadu_si512(wp + k);
        r[v] = (const __m512i *)(p->rqv + (size_t)((c0 + 16 * v) / 16) * MQ_RQ16_INTS);
        bias[v] = _mm512_loadu_si512(r[v]);
        shifts[v] = mode == MQ2_MODE_GENERAL ? _mm512_setzero_si512() : mq5_rq_shifts(r[v]);
    }
    const uint8_t *pad = p->pad_row + c0;
#define MQV_COL(x, v) ((uint32_t)(x) < iw                                                                        \
                           ? mqv_dw_col3(row0 + (size_t)(x) * c + c0 + 16 * (v),                                  \
                                         row1 + (size_t)(x) * c + c0 + 16 * (v),                                  \
                                         row2 + (size_t)(x) * c + c0 + 16 * (v), idx, !U8)                        \
                           : mqv_dw_col3(pad + 16 * (v), pad + 16 * (v), pad + 16 * (v), idx, !U8))
    // uint8: a column's correction (zero for int8, never used).
#define MQV_CORR(col) (U8 ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), (col), corr) : _mm512_setzero_si512())
    __m512i a[2], b[2], n[2], q[2], ac[2], bc[2], nc[2];
    MQV_UNROLL for (int v = 0; v < NV; v++) {
        a[v] = b[v] = MQV_COL(x0, v);
        if (STRIDE == 1) b[v] = MQV_COL(x0 + 1, v);
        ac[v] = MQV_CORR(a[v]);
        bc[v] = MQV_CORR(b[v]);
    }
    uint8_t *out = dst + c0;
    for (int32_t i = 0, x = x0; i < count; i++, x += STRIDE, out += c) {
        MQV_UNROLL for (int v = 0; v < NV; v++) {
            if (STRIDE != 1) {
                b[v] = MQV_COL(x + 1, v);
                bc[v] = MQV_CORR(b[v]);
            }
            n[v] = MQV_COL(x + 2, v);
            nc[v] = MQV_CORR(n[v]);
            __m512i acc = _mm512_dpbusd_epi32(bias[v], a[v], w[v][0]);
            acc = _mm512_dpbusd_epi32(acc, b[v], w[v][1]);
            acc = _mm512_dpbusd_epi32(acc, n[v], w[v][2]);
            if (U8) acc = _mm512_add_epi32(acc, _mm512_add_epi32(_mm512_add_epi32(ac[v], bc[v]), nc[v]));
            q[v] = mode == MQ2_MODE_FLOAT && NV == 2 ? mq5_rq_float_packed(acc, r[v])
                   : mode == MQ2_MODE_GENERAL        ? mq5_rq(acc, r[v], mode)
                                                     : mq5_rq_folded(acc, r[v], shifts[v], mode);
            if (STRIDE == 1) { a[v] = b[v]; b[v] = n[v]; ac[v] = bc[v]; bc[v] = nc[v]; }
            else { a[v] = n[v]; ac[v] = nc[v]; }
        }
        if (NV == 2) {
            __m512i h = _mm512_packs_epi32(q[0], q[1]);
            if (mode == MQ2_MODE_FLOAT) h = _mm512_adds_epi16(h, zp16);
            __m256i bytes = _mm512_castsi512_si256(
                _mm512_permutexvar_epi32(dwords, U8 ? _mm512_packus_epi16(h, h) : _mm512_packs_epi16(h, h)));
            if (clamps)
                bytes = U8 ? _mm256_min_epu8(_mm256_max_epu8(bytes, blo), bhi)
                           : _mm256_min_epi8(_mm256_max_epi8(bytes, blo), bhi);
            _mm256_storeu_si256((__m256i *)out, bytes);
        } else {
            _mm_storeu_si128((__m128i *)out, _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(q[0], lo), hi)));
        }
    }
#undef MQV_COL
#undef MQV_CORR
}

/// mqv_dw_run3 specialised for the stride, data type and requantization mode.
static MQV_T __attribute__((noinline)) void mqv_dw_run3_dispatch(const mq2_dw *p, const uint8_t *row0,
                                                                 const uint8_t *row1, const uint8_t *row2,
                                                                 int32_t x0, int32_t count, uint8_t *dst) {
#define MQV_RUN(mode, u8) do {                                                                                    \
        int32_t c0 = 0;                                                                                               \
        for (; c0 + 32 <= p->c; c0 += 32) {                                                                           \
            if (p->sw == 1) mqv_dw_run3(p, row0, row1, row2, x0, count, dst, c0, 2, 1, mode, u8);                     \
            else mqv_dw_run3(p, row0, row1, row2, x0, count, dst, c0, 2, 2, mode, u8);                                \
        }                                                                                                             \
        if (c0 < p->c) {                                                                                              \
            if (p->sw == 1) mqv_dw_run3(p, row0, row1, row2, x0, count, dst, c0, 1, 1, mode, u8);                     \
            else mqv_dw_run3(p, row0, row1, row2, x0, count, dst, c0, 1, 2, mode, u8);                                \
        }                                                                                                             \
    } while (0)
    const int kind = p->rq_mode * 2 + (p->is_signed ? 0 : 1);
    switch (kind) {
    case MQ2_MODE_RELU * 2: MQV_RUN(MQ2_MODE_RELU, 0); break;
    case MQ2_MODE_RELU * 2 + 1: MQV_RUN(MQ2_MODE_RELU, 1); break;
    case MQ2_MODE_LINEAR * 2: MQV_RUN(MQ2_MODE_LINEAR, 0); break;
    case MQ2_MODE_LINEAR * 2 + 1: MQV_RUN(MQ2_MODE_LINEAR, 1); break;
    case MQ2_MODE_GENERAL * 2: MQV_RUN(MQ2_MODE_GENERAL, 0); break;
    case MQ2_MODE_GENERAL * 2 + 1: MQV_RUN(MQ2_MODE_GENERAL, 1); break;
    case MQ2_MODE_FLOAT * 2: MQV_RUN(MQ2_MODE_FLOAT, 0); break;
    default: MQV_RUN(MQ2_MODE_FLOAT, 1); break;
    }
#undef MQV_RUN
}

/// mq2_dw_run3 specialised for the stride, data type and requantization mode.
/// With `w5` (AVX-512), mq5_dw_run3 takes the channels in blocks of 32 and this the last 16, if any.
static MQ2_T void mq2_dw_run3_dispatch(const mq2_dw *p, const uint8_t *row0, const uint8_t *row1,
                                       const uint8_t *row2, int32_t x0, int32_t count, uint8_t *dst) {
    const int kind = p->rq_mode * 2 + (p->is_signed ? 1 : 0);
    int32_t cstart = 0;
    if (p->wv != NULL) {
        mqv_dw_run3_dispatch(p, row0, row1, row2, x0, count, dst);
        return;
    }
    if (p->w5 != NULL) {
        cstart = p->c / 32 * 32;
        if (cstart > 0) mq5_dw_run3_dispatch(p, row0, row1, row2, x0, count, dst, cstart);
        if (cstart == p->c) return;
    }
#define MQ2_RUN3_S1(mode, s) mq2_dw_run3(p, row0, row1, row2, x0, count, dst, cstart, 1, s, mode)
#define MQ2_RUN3_S2(mode, s) mq2_dw_run3(p, row0, row1, row2, x0, count, dst, cstart, 2, s, mode)
    if (p->sw == 1) { MQ2_BY_KIND(kind, MQ2_RUN3_S1) } else { MQ2_BY_KIND(kind, MQ2_RUN3_S2) }
#undef MQ2_RUN3_S1
#undef MQ2_RUN3_S2
}

MQ2_T void mq2_dw_rows(const mq2_dw *p, int32_t row_begin, int32_t row_end) {
    const uint8_t *taps[66];
    const int ntaps = p->kh * p->kw, pairs = (ntaps + 1) / 2;
    // An odd tap count is paired with a zero filter tap that reads the (always valid) padding row.
    taps[ntaps] = p->pad_row;
    // Interior pixels (window inside the input) address their taps from the window's corner by fixed offsets;
    // only border pixels check bounds per tap.
    ptrdiff_t offsets[64];
    for (int32_t fy = 0, t = 0; fy < p->kh; fy++)
        for (int32_t fx = 0; fx < p->kw; fx++, t++)
            offsets[t] = ((ptrdiff_t)fy * p->dh * p->iw + (ptrdiff_t)fx * p->dw) * p->c;
    int32_t ox_lo, ox_hi;
    mq2_interior_columns(p->iw, p->ow, p->kw, p->sw, p->dw, p->pw, &ox_lo, &ox_hi);
    for (int32_t row = row_begin; row < row_end; row++) {
        const int32_t b = row / p->oh, oy = row % p->oh;
        const int32_t y0 = oy * p->sh - p->ph;
        const int inside_y = y0 >= 0 && y0 + (p->kh - 1) * p->dh < p->ih;
        uint8_t *out_row = p->out + ((size_t)b * p->oh + oy) * p->ow * p->c;
        if (p->w3 != NULL) {
            // The whole output row in one run: rows above or below the input, and columns left or right of it,
            // read the padding row.
            const uint8_t *rows[3];
            for (int fy = 0; fy < 3; fy++) {
                const int32_t y = y0 + fy;
                rows[fy] = (y < 0 || y >= p->ih) ? p->pad_row : p->in + ((size_t)b * p->ih + y) * p->iw * p->c;
            }
            mq2_dw_run3_dispatch(p, rows[0], rows[1], rows[2], -p->pw, p->ow, out_row);
            continue;
        }
        for (int32_t ox = 0; ox < p->ow; ox++) {
            if (inside_y && ox >= ox_lo && ox < ox_hi) {
                const uint8_t *corner = p->in + (((size_t)b * p->ih + y0) * p->iw + (ox * p->sw - p->pw)) * p->c;
                for (int t = 0; t < ntaps; t++) taps[t] = corner + offsets[t];
            } else {
                int t = 0;
                for (int32_t fy = 0; fy < p->kh; fy++) {
                    const int32_t y = y0 + p->dh * fy;
                    for (int32_t fx = 0; fx < p->kw; fx++, t++) {
                        const int32_t x = ox * p->sw - p->pw + p->dw * fx;
                        taps[t] = (y < 0 || y >= p->ih || x < 0 || x >= p->iw)
                            ? p->pad_row : p->in + (((size_t)b * p->ih + y) * p->iw + x) * p->c;
                    }
                }
            }
            mq2_dw_dispatch(p, taps, pairs, out_row + (size_t)ox * p->c);
        }
    }
}

#else

int mq2_cpu_supported(void) { return 0; }
int mq5_cpu_supported(void) { return 0; }
void mq2_gemm_task(const mq2_gemm *p, int32_t task) { (void)p; (void)task; }
void mq2_dw_rows(const mq2_dw *p, int32_t row_begin, int32_t row_end) { (void)p; (void)row_begin; (void)row_end; }

#endif
