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

int mq_windowed_supported(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = mq_cpu_supported() && __builtin_cpu_supports("avx512vbmi");
    }
    return cached;
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
MQ_INLINE MQ_T void mq_tile(const mq_gemm *p, const uint8_t *ap, size_t astride, const int8_t *bp,
                            const int32_t *corr, int32_t col0, int32_t rows_valid, uint8_t *c, const int MR,
                            const int NZ, const int mode, const int flip) {
    const int32_t kp = p->kp;
    const __m512i flipper = _mm512_set1_epi32((int32_t)0x80808080u);
    const size_t bstride = (size_t)kp * 16;
    const int32_t *rq = p->rq + (size_t)(col0 / 16) * MQ_RQ16_INTS;
    __m512i acc[24];
    // Every loop over rows or vectors is unrolled by pragma: SwiftPM compiles C at -O2, which left some of them
    // rolled (the accumulators then live in memory; C harness: 575 us at -O3 against 819 at -O2 for the 20 shapes).
#define MQ_UNROLL _Pragma("clang loop unroll(full)")
    MQ_UNROLL for (int z = 0; z < NZ; z++) {
        const __m512i bias = _mm512_loadu_si512(rq + z * MQ_RQ16_INTS);
        MQ_UNROLL for (int r = 0; r < MR; r++) acc[r * NZ + z] = bias;
    }
    // One step of 4 k: NZ weight vectors, then per row one broadcast (flipped for int8 rows read in place) and NZ
    // VPDPBUSD. The compiler puts the XOR after a scalar load, before the broadcast (three operations, not two).
#define MQ_STEP(g)                                                                                                    \
    do {                                                                                                              \
        __m512i w[4];                                                                                                 \
        MQ_UNROLL for (int z = 0; z < NZ; z++)                                                                       \
            w[z] = _mm512_loadu_si512((const void *)(bp + z * bstride + (size_t)(g) * 16));                          \
        MQ_UNROLL for (int r = 0; r < MR; r++) {                                                                      \
            int32_t word;                                                                                             \
            memcpy(&word, ap + (size_t)r * astride + (g), 4);                                                        \
            __m512i x = _mm512_set1_epi32(word);                                                                      \
            if (flip) x = _mm512_xor_si512(x, flipper);                                                               \
            MQ_UNROLL for (int z = 0; z < NZ; z++) acc[r * NZ + z] = _mm512_dpbusd_epi32(acc[r * NZ + z], x, w[z]);  \
        }                                                                                                             \
    } while (0)
    if (flip) {
        for (int32_t g = 0; g < kp; g += 4) MQ_STEP(g);
    } else {
        // Not unrolled: unrolling hoisted the next step's broadcasts, which with 24 accumulators spilled registers
        // inside the loop (C harness, uint8 12x32 tiles, k = 144 and 192: 71 and 133 -> 48 and 61 cycles per row);
        // the flipped loop is faster unrolled (48 and 60 against 60 and 73).
#pragma clang loop unroll(disable)
        for (int32_t g = 0; g < kp; g += 4) MQ_STEP(g);
    }
#undef MQ_STEP
    const int corrects = p->row_corr != 0;
    if (NZ >= 2) {
        // Up to four vectors of a row are narrowed together: two VPACKSSDW, one VPACKSSWB (int8) or VPACKUSWB
        // (uint8), one VPERMD back to column order, then one clamp on 64 bytes and one store. Saturating to 16 and
        // then 8 bits before clamping gives the bytes of clamping in 32 bits (the bounds lie in the type's range);
        // LINEAR layers clamp to the whole range, which the saturation already is.
        const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        const __m512i blo = _mm512_set1_epi8((char)p->act_min), bhi = _mm512_set1_epi8((char)p->act_max);
        const int32_t width = p->n - col0 < NZ * 16 ? p->n - col0 : NZ * 16;
        const __mmask64 bm = width >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << width) - 1);
        const int signed_out = p->flip;
        // The byte clamp is needed unless the activation range is the type's (LINEAR mode; int8 ReLU6 layers whose
        // zero point is -128 and whose range reaches 127, as MobileNetV2's expansions).
        // FLOAT mode clamps from above in float (mq5_rq_float_packed) and needs the byte clamp for act_min only.
        const int clamps = mode == MQ2_MODE_FLOAT ? (signed_out ? p->act_min > -128 : p->act_min > 0)
                           : mode != MQ2_MODE_LINEAR &&
                             (signed_out ? p->act_min > -128 || p->act_max < 127 : p->act_min > 0 || p->act_max < 255);
        const __m512i zp16 = mode == MQ2_MODE_FLOAT ? mq5_float_zero_point(p->rq) : _mm512_setzero_si512();
        __m512i shifts[4];
        MQ_UNROLL for (int z = 0; z < NZ; z++)
            shifts[z] = mode == MQ2_MODE_GENERAL ? _mm512_setzero_si512()
                                                 : mq5_rq_shifts((const __m512i *)(rq + z * MQ_RQ16_INTS));
        // Rows past rows_valid are skipped, not left by a break, so that the loop unrolls.
        MQ_UNROLL for (int r = 0; r < MR; r++) {
            if (r < rows_valid) {
                __m512i q[4];
                MQ_UNROLL for (int z = 0; z < 4; z++) {
                    if (z < NZ) {
                        __m512i v = acc[r * NZ + z];
                        if (corrects) v = _mm512_add_epi32(v, _mm512_set1_epi32(corr[r]));
                        const __m512i *r16 = (const __m512i *)(rq + z * MQ_RQ16_INTS);
                        q[z] = mode == MQ2_MODE_FLOAT     ? mq5_rq_float_packed(v, r16)
                               : mode == MQ2_MODE_GENERAL ? mq5_rq(v, r16, mode)
                                                          : mq5_rq_folded(v, r16, shifts[z], mode);
                    } else {
                        q[z] = _mm512_setzero_si512();
                    }
                }
                __m512i w01 = _mm512_packs_epi32(q[0], q[1]), w23 = _mm512_packs_epi32(q[2], q[3]);
                if (mode == MQ2_MODE_FLOAT) {
                    w01 = _mm512_adds_epi16(w01, zp16);
                    w23 = _mm512_adds_epi16(w23, zp16);
                }
                __m512i b = _mm512_permutexvar_epi32(order, signed_out ? _mm512_packs_epi16(w01, w23)
                                                                       : _mm512_packus_epi16(w01, w23));
                if (clamps)
                    b = signed_out ? _mm512_min_epi8(_mm512_max_epi8(b, blo), bhi)
                                   : _mm512_min_epu8(_mm512_max_epu8(b, blo), bhi);
                uint8_t *dst = c + (size_t)r * p->c_stride + col0;
                if (width >= 64) _mm512_storeu_si512((void *)dst, b);
                else _mm512_mask_storeu_epi8(dst, bm, b);
            }
        }
        return;
    }
    // One vector per row (the 24x16 tile; col0 < n): the one-rounding requantization of the AVX2 kernels (zero
    // point included), then the activation clamp (within the type's range), so the bytes are theirs and the
    // reference's.
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi = _mm512_set1_epi32(p->act_max);
    const __mmask16 nm = mq_tail_mask(p->n - col0);
    const __m512i *r16 = (const __m512i *)rq;
    const __m512i shifts = mode == MQ2_MODE_GENERAL ? _mm512_setzero_si512() : mq5_rq_shifts(r16);
    MQ_UNROLL for (int r = 0; r < MR; r++) {
        if (r < rows_valid) {
            __m512i v = acc[r * NZ];
            if (corrects) v = _mm512_add_epi32(v, _mm512_set1_epi32(corr[r]));
            v = mode == MQ2_MODE_GENERAL ? mq5_rq(v, r16, mode) : mq5_rq_folded(v, r16, shifts, mode);
            v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
            _mm_mask_storeu_epi8(c + (size_t)r * p->c_stride + col0, nm, _mm512_cvtepi32_epi8(v));
        }
    }
}

/// The tile shapes (rows x 16-column vectors), each specialised for the requantization mode.
#define MQ_TILE_MODES(NAME, R, Z, F)                                                                                  \
    static MQ_T void NAME(const mq_gemm *p, const uint8_t *ap, size_t astride, const int8_t *bp, const int32_t *corr, \
                          int32_t col0, int32_t rows, uint8_t *c) {                                                   \
        switch (p->rq_mode) {                                                                                         \
        case MQ2_MODE_RELU: mq_tile(p, ap, astride, bp, corr, col0, rows, c, R, Z, MQ2_MODE_RELU, F); break;          \
        case MQ2_MODE_LINEAR: mq_tile(p, ap, astride, bp, corr, col0, rows, c, R, Z, MQ2_MODE_LINEAR, F); break;      \
        case MQ2_MODE_FLOAT: mq_tile(p, ap, astride, bp, corr, col0, rows, c, R, Z, MQ2_MODE_FLOAT, F); break;        \
        default: mq_tile(p, ap, astride, bp, corr, col0, rows, c, R, Z, MQ2_MODE_GENERAL, F); break;                  \
        }                                                                                                             \
    }
/// Each shape twice: reading packed rows (already uint8), and reading int8 rows in place, flipped as broadcast.
#define MQ_TILE_SHAPE(NAME, R, Z) MQ_TILE_MODES(NAME, R, Z, 0) MQ_TILE_MODES(NAME##_flip, R, Z, 1)
MQ_TILE_SHAPE(mq_tile_6x4, 6, 4)
MQ_TILE_SHAPE(mq_tile_8x3, 8, 3)
MQ_TILE_SHAPE(mq_tile_12x2, 12, 2)
MQ_TILE_SHAPE(mq_tile_24x1, 24, 1)
#undef MQ_TILE_SHAPE
// Two-row tiles for a block's last one or two rows: a full tile there computes 6-24 rows for them. Only a partial
// block has such rows (6, 8, 12 and 24 divide a whole one), and partial blocks are packed, so these are never
// flipped. In MobileNetV2 the 7 x 7 layers' 49 rows end in a block of one, and the classifier has one row: int8
// model, one thread, per-operator medians, the 7 x 7 GEMMs and the classifier 0.219 -> 0.210 ms (the classifier
// 16.2 -> 12.3 us).
MQ_TILE_MODES(mq_tile_2x4, 2, 4, 0)
MQ_TILE_MODES(mq_tile_2x3, 2, 3, 0)
MQ_TILE_MODES(mq_tile_2x2, 2, 2, 0)
MQ_TILE_MODES(mq_tile_2x1, 2, 1, 0)

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

/// Adds lane pairs of two vectors: lanes 0-7 of the result are a's pairs, lanes 8-15 b's (in order).
MQ_INLINE MQ_T __m512i mq_pair_sums(__m512i a, __m512i b) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_add_epi32(_mm512_permutex2var_epi32(a, even, b), _mm512_permutex2var_epi32(a, odd, b));
}

/// Each row's correction `row_corr * sum(row)` for `rows` (at most 16) rows of A read in place (uint8 models; 16
/// slots of `corr` are written): one VPDPBUSD against ones per 64 bytes of a row, then the 16 row vectors are
/// summed across lanes together (four levels of lane-pair sums) instead of one by one.
static MQ_T void mq_row_corrections16(const mq_gemm *p, const uint8_t *a, int32_t rows, int32_t *corr) {
    const int32_t k = p->k;
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i v[16];
    for (int32_t r = 0; r < 16; r++) {
        v[r] = _mm512_setzero_si512();
        if (r >= rows) continue;
        const uint8_t *src = a + (size_t)r * p->a_stride;
        for (int32_t i = 0; i < k; i += 64) {
            const __mmask64 m = (k - i) >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (k - i)) - 1);
            v[r] = _mm512_dpbusd_epi32(v[r], _mm512_maskz_loadu_epi8(m, src + i), ones);
        }
    }
    for (int n = 16; n > 1; n /= 2)
        for (int i = 0; i < n / 2; i++) v[i] = mq_pair_sums(v[2 * i], v[2 * i + 1]);
    const __m512i sums = _mm512_mullo_epi32(v[0], _mm512_set1_epi32(p->row_corr));
    _mm512_storeu_si512(corr, sums);
}

#define MQW_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi")))

/// The receptive fields of `rows` output pixels from r0 on (a windowed convolution, mq_windowed_supported()), as
/// GEMM rows of kp bytes in `abuf`, flipped to uint8 for int8 models, and their corrections `row_corr * sum(row)`
/// (uint8 models). Inside the input, each of the (at most 3) filter rows is one 16-byte load, and one VPERMT2B puts
/// their first kw * c bytes side by side, zeros after k; the row goes out as one 32-byte store, whose bytes past kp
/// land on the next row (written after it) or on abuf's spare bytes. One store per row also lets the tiles' 4-byte
/// loads take their bytes straight from it. The work goes an output row at a time: the input rows are found once,
/// and the pixels whose windows lie inside take the fast path; the others use masked loads. Filter rows must be
/// contiguous (dilation 1 across; the callers check), as mq_windowed_supported() says.
static MQW_T void mq_gather_windows(const mq_gemm *p, int32_t r0, int32_t rows, uint8_t *abuf, int32_t *corr) {
    const mq_window *w = p->window;
    const int32_t c = w->c, run = w->kw * c, k = p->k, kp = p->kp, kh = w->kh, ow = w->ow, sw = w->sw;
    const int32_t plane = w->oh * ow;
    uint8_t index[32] __attribute__((aligned(32))) = {0};
    for (int32_t fy = 0; fy < kh; fy++)
        for (int32_t j = 0; j < run; j++) index[fy * run + j] = (uint8_t)(fy * 16 + j);
    const __m256i idx = _mm256_load_si256((const __m256i *)index);
    const __mmask32 km = k >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << k) - 1);
    const __m256i flip = _mm256_set1_epi8(p->flip ? (char)0x80 : 0);
    const int sums = p->row_corr != 0;
    const int32_t row_corr = p->row_corr;
    // Output columns whose windows lie inside the input horizontally.
    int32_t ilo, ihi;
    mq2_interior_columns(w->iw, ow, w->kw, sw, 1, w->pw, &ilo, &ihi);
    int32_t b = r0 / plane, oy = r0 % plane / ow, ox = r0 % plane % ow;
    for (int32_t r = 0; r < rows;) {
        const uint8_t *image = p->a + (size_t)b * w->ih * w->iw * c;
        const uint8_t *line[3] = {image, image, image};
        int lines_in = 1;
        for (int32_t fy = 0; fy < kh; fy++) {
            const int32_t y = oy * w->sh - w->ph + w->dh * fy;
            if (y < 0 || y >= w->ih) lines_in = 0;
            else line[fy] = image + (size_t)y * w->iw * c;
        }
        const int32_t end = ox + (rows - r < ow - ox ? rows - r : ow - ox);
        int32_t lo = ox, hi = ox;
        if (lines_in) {
            lo = ilo > ox ? ilo : ox;
            hi = ihi < end ? ihi : end;
            // No 16-byte load may reach past the input: the last filter row's loads are the furthest.
            const int64_t room = (int64_t)(p->a + p->a_size - line[kh - 1]) - 16;
            const int64_t last = room < 0 ? -1 : (room / c + w->pw) / sw;
            if (hi > last + 1) hi = (int32_t)(last + 1);
            if (hi < lo) hi = lo;
        }
        for (int32_t x = ox; x < end; x++, r++) {
            __m256i v;
            if (x >= lo && x < hi) {
                const size_t off = (size_t)(x * sw - w->pw) * c;
                const __m256i l01 = _mm256_inserti128_si256(
                    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(line[0] + off))),
                    _mm_loadu_si128((const __m128i *)(line[1] + off)), 1);
                const __m256i l2 = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(line[2] + off)));
                v = _mm256_maskz_permutex2var_epi8(km, l01, idx, l2);
            } else {
                // At an edge: masked loads take the filter rows' bytes inside the input, the zero point elsewhere
                // (masked-off bytes are not read).
                const int32_t x0 = x * sw - w->pw;
                const int32_t first = x0 < 0 ? -x0 * c : 0, last = (w->iw - x0) * c < run ? (w->iw - x0) * c : run;
                const __mmask16 xm = last <= first ? 0 : (__mmask16)(((1u << last) - 1u) & ~((1u << first) - 1u));
                const __m128i zp = _mm_set1_epi8((char)w->in_zp);
                __m128i l[3];
                for (int32_t fy = 0; fy < 3; fy++) {
                    const int32_t y = oy * w->sh - w->ph + w->dh * fy;
                    l[fy] = fy < kh && y >= 0 && y < w->ih
                                ? _mm_mask_loadu_epi8(zp, xm, (const void *)((uintptr_t)image +
                                                                         ((intptr_t)y * w->iw + x0) * c))
                                : zp;
                }
                v = _mm256_maskz_permutex2var_epi8(km, _mm256_inserti128_si256(_mm256_castsi128_si256(l[0]), l[1], 1),
                                                   idx, _mm256_castsi128_si256(l[2]));
            }
            if (sums) {
                const __m256i s4 = _mm256_sad_epu8(v, _mm256_setzero_si256());
                const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
                corr[r] = row_corr * (int32_t)(_mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1));
            }
            _mm256_storeu_si256((__m256i *)(abuf + (size_t)r * kp), _mm256_xor_si256(v, flip));
        }
        ox = end;
        if (ox == ow) { ox = 0; if (++oy == w->oh) { oy = 0; b++; } }
    }
    for (int32_t r = rows; r < MQ_MB; r++) {
        memset(abuf + (size_t)r * kp, 0, (size_t)kp);
        corr[r] = 0;
    }
}

MQ_T void mq_gemm_task(const mq_gemm *p, int32_t task) {
    // Column blocks are split in groups of 4 (one 64-wide tile).
    int32_t mb0, mb1, nb0, nb1;
    mq_task_range(p, task, MQ_MB, 4, &mb0, &mb1, &nb0, &nb1);
    const int32_t kp = p->kp;
    uint8_t abuf[MQ_MB * kp + 64] __attribute__((aligned(64)));
    int32_t corr[32] __attribute__((aligned(64)));
    // A whole block of rows whose reduction is a multiple of 4 is read in place: each 4-byte group is broadcast
    // (and flipped for int8) as the tiles need it. Copying it first cost more than the block's arithmetic in the
    // small-reduction layers (C harness, 112 x 112 32 -> 16: 97 -> 49 us; likely the 4-byte loads waiting on the
    // masked 64-byte stores they read). Other blocks are packed.
    // uint8 models also need each row's sum then (mq_row_corrections16).
    const int in_place = p->k == kp && p->k >= 4;
    for (int32_t mb = mb0; mb < mb1; mb++) {
        const int32_t r0 = mb * MQ_MB;
        const int32_t rows = p->m - r0 < MQ_MB ? p->m - r0 : MQ_MB;
        const uint8_t *ap;
        size_t as;
        int flipped;
        if (p->window != NULL) {
            mq_gather_windows(p, r0, rows, abuf, corr);
            ap = abuf;
            as = (size_t)kp;
            flipped = 0;
        } else if (in_place && rows == MQ_MB) {
            ap = p->a + (size_t)r0 * p->a_stride;
            as = (size_t)p->a_stride;
            flipped = p->flip;
            // int8 (row_corr 0): the tiles never read corr.
            if (p->row_corr != 0) {
                mq_row_corrections16(p, ap, 16, corr);
                mq_row_corrections16(p, ap + 16 * as, MQ_MB - 16, corr + 16);
            }
        } else {
            mq_pack_rows(p, r0, rows, abuf, corr);
            ap = abuf;
            as = (size_t)kp;
            flipped = 0;
        }
        uint8_t *c = p->c + (size_t)r0 * p->c_stride;
        for (int32_t j = nb0; j < nb1;) {
            const int32_t left = nb1 - j;
            const int8_t *bp = p->b + (size_t)j * kp * 16;
            const int32_t col0 = j * 16;
#define MQ_CALL(TILE, s)                                                                                              \
    do {                                                                                                              \
        uint8_t *cs = c + (size_t)(s) * p->c_stride;                                                                  \
        if (flipped) TILE##_flip(p, ap + (s) * as, as, bp, corr + (s), col0, rows - (s), cs);                         \
        else TILE(p, ap + (s) * as, as, bp, corr + (s), col0, rows - (s), cs);                                        \
    } while (0)
#define MQ_RUN(TILE, SMALL, MR)                                                                                       \
    for (int32_t s = 0; s < rows; s += MR) {                                                                          \
        if (rows - s <= 2) SMALL(p, ap + s * as, as, bp, corr + s, col0, rows - s, c + (size_t)s * p->c_stride);     \
        else MQ_CALL(TILE, s);                                                                                        \
    }
            if (left >= 4) {
                MQ_RUN(mq_tile_6x4, mq_tile_2x4, 6)
                j += 4;
            } else if (left == 3) {
                MQ_RUN(mq_tile_8x3, mq_tile_2x3, 8)
                j += 3;
            } else if (left == 2) {
                MQ_RUN(mq_tile_12x2, mq_tile_2x2, 12)
                j += 2;
            } else {
                MQ_RUN(mq_tile_24x1, mq_tile_2x1, 24)
                j += 1;
            }
#undef MQ_RUN
#undef MQ_CALL
        }
    }
}

#else

int mq_cpu_supported(void) { return 0; }
void mq_gemm_task(const mq_gemm *p, int32_t task) { (void)p; (void)task; }

#endif
