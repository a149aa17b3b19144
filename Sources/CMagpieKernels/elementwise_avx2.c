// AVX2 kernels for Magpie's quantized elementwise arithmetic: ADD and SUB of two same-shape uint8 / int8 tensors,
// and ADD in XNNPACK's arithmetic (mqe_shifted_add_run).
//
// Every vector function carries a per-function target attribute (MQ2_T), so the package still builds for generic
// x86-64 and, without these kernels, for other architectures; Swift calls them only when `mqe_cpu_supported()`
// says the CPU has AVX2.
//
// The arithmetic is TFLite's reference `AddElementwise` in exact int32 lanes (see avx2_common.h for why the high
// multiply and the rounding shift are bit-identical to gemmlowp's); the left shift and the sums wrap as the
// reference's int32 arithmetic does. The Swift caller only comes here when the clamp range lies within the element
// type, so the saturating packs back to bytes never saturate and equal the reference's truncation.
#include "CMagpieKernels.h"

#if defined(__x86_64__)
#include <string.h>
#include "avx2_common.h"

int mqe_cpu_supported(void) { return mq2_cpu_has_avx2(); }

/// The broadcast parameters of one `mqe_add`, built once per call.
typedef struct {
    __m256i off1, off2, lsh;
    __m256i m1, e1, mask1, half1;
    __m256i m2, e2, mask2, half2;
    __m256i zero, mo, eo, masko, halfo;
    __m256i out_off, lo, hi;
    // The 32-bit form of the inputs' high multiply (mqe_input_high_mul): m = mh * 2^s + ml, s = 31 - left shift.
    __m256i mh1, ml1, mh2, ml2, s, round;
} mqe_add_vectors;

/// Whether the inputs' high multiply can run on 32-bit lanes (mqe_input_high_mul): a left shift in [8, 23],
/// as TFLite's 20 for 8-bit ADD/SUB.
MQ2_INLINE int mqe_short_multiply(const mqe_add *p) { return p->left_shift >= 8 && p->left_shift <= 23; }

/// SaturatingRoundingDoublingHighMul(v << L, m) for v in [-255, 255], m >= 0 and 8 <= L <= 23, in 32-bit lanes:
/// floor((v * m * 2^L + 2^30) / 2^31) = floor((v * m + 2^(s-1)) / 2^s) with s = 31 - L (2^L divides both terms),
/// and with m = mh * 2^s + ml that is v * mh + floor((v * ml + 2^(s-1)) / 2^s); |v * mh| < 2^8 * 2^L <= 2^31
/// and |v * ml| < 2^8 * 2^s <= 2^31, so neither product overflows. Two VPMULLD instead of the 64-bit products.
MQ2_INLINE MQ2_T __m256i mqe_input_high_mul(__m256i v, __m256i mh, __m256i ml, __m256i s, __m256i round) {
    const __m256i low = _mm256_srav_epi32(_mm256_add_epi32(_mm256_mullo_epi32(v, ml), round), s);
    return _mm256_add_epi32(_mm256_mullo_epi32(v, mh), low);
}

/// The mask and half of TFLite's RoundingDivideByPOT for `exponent` in 0...31.
MQ2_INLINE MQ2_T void mqe_shift_vectors(int32_t exponent, __m256i *e, __m256i *mask, __m256i *half) {
    const int32_t m = (int32_t)(((int64_t)1 << exponent) - 1);
    *e = _mm256_set1_epi32(exponent);
    *mask = _mm256_set1_epi32(m);
    *half = _mm256_set1_epi32(m >> 1);
}

MQ2_INLINE MQ2_T mqe_add_vectors mqe_vectors(const mqe_add *p) {
    mqe_add_vectors k;
    k.off1 = _mm256_set1_epi32(p->input1_offset);
    k.off2 = _mm256_set1_epi32(p->input2_offset);
    k.lsh = _mm256_set1_epi32(p->left_shift);
    k.m1 = _mm256_set1_epi32(p->input1_multiplier);
    mqe_shift_vectors(p->input1_exponent, &k.e1, &k.mask1, &k.half1);
    k.m2 = _mm256_set1_epi32(p->input2_multiplier);
    mqe_shift_vectors(p->input2_exponent, &k.e2, &k.mask2, &k.half2);
    k.zero = _mm256_setzero_si256();
    k.mo = _mm256_set1_epi32(p->output_multiplier);
    mqe_shift_vectors(p->output_exponent, &k.eo, &k.masko, &k.halfo);
    k.out_off = _mm256_set1_epi32(p->output_offset);
    k.lo = _mm256_set1_epi32(p->act_min);
    k.hi = _mm256_set1_epi32(p->act_max);
    const int32_t s = 31 - p->left_shift;
    if (mqe_short_multiply(p)) {
        k.mh1 = _mm256_set1_epi32(p->input1_multiplier >> s);
        k.ml1 = _mm256_set1_epi32(p->input1_multiplier & ((1 << s) - 1));
        k.mh2 = _mm256_set1_epi32(p->input2_multiplier >> s);
        k.ml2 = _mm256_set1_epi32(p->input2_multiplier & ((1 << s) - 1));
        k.s = _mm256_set1_epi32(s);
        k.round = _mm256_set1_epi32(1 << (s - 1));
    } else {
        k.mh1 = k.ml1 = k.mh2 = k.ml2 = k.s = k.round = k.zero;
    }
    return k;
}

/// 8 bytes widened to int32 lanes (sign- or zero-extended).
MQ2_INLINE MQ2_T __m256i mqe_widen8(const uint8_t *src, const int is_signed) {
    const __m128i v = _mm_loadl_epi64((const __m128i *)src);
    return is_signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

/// 8 output values as clamped int32 lanes: both inputs offset, shifted left and rescaled, combined, rescaled to the
/// output, offset and clamped.
MQ2_INLINE MQ2_T __m256i mqe_add8(const mqe_add_vectors *k, const uint8_t *a, const uint8_t *b, const int is_signed,
                                  const int subtract, const int short_multiply) {
    const __m256i x1 = _mm256_add_epi32(mqe_widen8(a, is_signed), k->off1);
    const __m256i x2 = _mm256_add_epi32(mqe_widen8(b, is_signed), k->off2);
    __m256i s1, s2;
    if (short_multiply) {
        s1 = mq2_rounding_shift(mqe_input_high_mul(x1, k->mh1, k->ml1, k->s, k->round), k->e1, k->mask1, k->half1);
        s2 = mq2_rounding_shift(mqe_input_high_mul(x2, k->mh2, k->ml2, k->s, k->round), k->e2, k->mask2, k->half2);
    } else {
        s1 = mq2_requant(x1, k->m1, k->lsh, k->e1, k->mask1, k->half1);
        s2 = mq2_requant(x2, k->m2, k->lsh, k->e2, k->mask2, k->half2);
    }
    const __m256i raw = subtract ? _mm256_sub_epi32(s1, s2) : _mm256_add_epi32(s1, s2);
    const __m256i v = _mm256_add_epi32(mq2_requant(raw, k->mo, k->zero, k->eo, k->masko, k->halfo), k->out_off);
    return _mm256_min_epi32(_mm256_max_epi32(v, k->lo), k->hi);
}

/// Stores 32 clamped int32 values (four 8-lane vectors) as bytes. The two packs interleave the 128-bit halves, so
/// the dwords come out as (v0 lo, v1 lo, v2 lo, v3 lo, v0 hi, v1 hi, v2 hi, v3 hi) and one permute restores the
/// order.
MQ2_INLINE MQ2_T void mqe_store32(uint8_t *out, __m256i v0, __m256i v1, __m256i v2, __m256i v3, const int is_signed) {
    const __m256i w01 = _mm256_packs_epi32(v0, v1);
    const __m256i w23 = _mm256_packs_epi32(v2, v3);
    const __m256i bytes = is_signed ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256((__m256i *)out, _mm256_permutevar8x32_epi32(bytes, order));
}

/// Runs STEP(a, b, out) (32 elements) over `count` elements; the last partial block runs on zero-padded copies
/// (the padding's results are discarded), so every element goes through the same vector code.
#define MQE_BLOCKS32(a, b, out, count, STEP)                                                                          \
    do {                                                                                                              \
        int64_t i_ = 0;                                                                                               \
        for (; i_ + 32 <= (count); i_ += 32) STEP((a) + i_, (b) + i_, (out) + i_);                                   \
        if (i_ < (count)) {                                                                                           \
            uint8_t ta_[32] = {0}, tb_[32] = {0}, to_[32];                                                            \
            const size_t n_ = (size_t)((count) - i_);                                                                 \
            memcpy(ta_, (a) + i_, n_);                                                                                \
            memcpy(tb_, (b) + i_, n_);                                                                                \
            STEP(ta_, tb_, to_);                                                                                      \
            memcpy((out) + i_, to_, n_);                                                                              \
        }                                                                                                             \
    } while (0)

/// 32 elements of TFLite's ADD / SUB.
MQ2_INLINE MQ2_T void mqe_add32(const mqe_add_vectors *k, const uint8_t *a, const uint8_t *b, uint8_t *out,
                                const int is_signed, const int subtract, const int sm) {
    mqe_store32(out, mqe_add8(k, a, b, is_signed, subtract, sm), mqe_add8(k, a + 8, b + 8, is_signed, subtract, sm),
                mqe_add8(k, a + 16, b + 16, is_signed, subtract, sm),
                mqe_add8(k, a + 24, b + 24, is_signed, subtract, sm), is_signed);
}

/// The whole range in 32-element blocks (MQE_BLOCKS32).
MQ2_INLINE MQ2_T void mqe_add_loop(const mqe_add *p, const uint8_t *a, const uint8_t *b, uint8_t *out,
                                   int64_t count, const int is_signed, const int subtract, const int sm) {
    const mqe_add_vectors k = mqe_vectors(p);
#define MQE_ADD_STEP(x, y, z) mqe_add32(&k, x, y, z, is_signed, subtract, sm)
    MQE_BLOCKS32(a, b, out, count, MQE_ADD_STEP);
#undef MQE_ADD_STEP
}

// MARK: AVX-512 (F, BW, VL, DQ) variant: the same arithmetic on 16 lanes

/// mq2_high_mul on 16 lanes.
MQ2_INLINE MQ5_T __m512i mqe5_high_mul(__m512i x, __m512i m) {
    const __m512i half = _mm512_set1_epi64(1LL << 30);
    __m512i even = _mm512_add_epi64(_mm512_mul_epi32(x, m), half);
    __m512i odd = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32)), half);
    even = _mm512_srli_epi64(even, 31);
    odd = _mm512_slli_epi64(odd, 1);
    return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

/// mq2_rounding_shift on 16 lanes (the round-up as a masked add).
MQ2_INLINE MQ5_T __m512i mqe5_rounding_shift(__m512i x, __m512i e, __m512i mask, __m512i half) {
    const __m512i rem = _mm512_and_si512(x, mask);
    const __m512i thr = _mm512_sub_epi32(half, _mm512_srai_epi32(x, 31));
    const __m512i q = _mm512_srav_epi32(x, e);
    return _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, _mm512_set1_epi32(1));
}

/// mqe_add_vectors on 16 lanes: each 256-bit vector broadcast to both halves.
typedef struct {
    __m512i off1, off2, lsh, m1, e1, mask1, half1, m2, e2, mask2, half2;
    __m512i zero, mo, eo, masko, halfo, out_off, lo, hi, mh1, ml1, mh2, ml2, s, round;
} mqe5_add_vectors;

MQ2_INLINE MQ5_T __m512i mqe5_wide(__m256i v) { return _mm512_broadcast_i64x4(v); }

MQ2_INLINE MQ5_T mqe5_add_vectors mqe5_vectors(const mqe_add_vectors *k) {
    mqe5_add_vectors w;
    w.off1 = mqe5_wide(k->off1); w.off2 = mqe5_wide(k->off2); w.lsh = mqe5_wide(k->lsh);
    w.m1 = mqe5_wide(k->m1); w.e1 = mqe5_wide(k->e1); w.mask1 = mqe5_wide(k->mask1); w.half1 = mqe5_wide(k->half1);
    w.m2 = mqe5_wide(k->m2); w.e2 = mqe5_wide(k->e2); w.mask2 = mqe5_wide(k->mask2); w.half2 = mqe5_wide(k->half2);
    w.zero = mqe5_wide(k->zero); w.mo = mqe5_wide(k->mo); w.eo = mqe5_wide(k->eo); w.masko = mqe5_wide(k->masko);
    w.halfo = mqe5_wide(k->halfo); w.out_off = mqe5_wide(k->out_off); w.lo = mqe5_wide(k->lo);
    w.hi = mqe5_wide(k->hi); w.mh1 = mqe5_wide(k->mh1); w.ml1 = mqe5_wide(k->ml1); w.mh2 = mqe5_wide(k->mh2);
    w.ml2 = mqe5_wide(k->ml2); w.s = mqe5_wide(k->s); w.round = mqe5_wide(k->round);
    return w;
}

/// mqe_add8 on 16 elements.
MQ2_INLINE MQ5_T __m512i mqe5_add16(const mqe5_add_vectors *k, const uint8_t *a, const uint8_t *b,
                                    const int is_signed, const int subtract, const int short_multiply) {
    const __m128i ra = _mm_loadu_si128((const __m128i *)a), rb = _mm_loadu_si128((const __m128i *)b);
    const __m512i x1 = _mm512_add_epi32(is_signed ? _mm512_cvtepi8_epi32(ra) : _mm512_cvtepu8_epi32(ra), k->off1);
    const __m512i x2 = _mm512_add_epi32(is_signed ? _mm512_cvtepi8_epi32(rb) : _mm512_cvtepu8_epi32(rb), k->off2);
    __m512i s1, s2;
    if (short_multiply) {
        // mqe_input_high_mul on 16 lanes.
        const __m512i l1 = _mm512_srav_epi32(_mm512_add_epi32(_mm512_mullo_epi32(x1, k->ml1), k->round), k->s);
        const __m512i l2 = _mm512_srav_epi32(_mm512_add_epi32(_mm512_mullo_epi32(x2, k->ml2), k->round), k->s);
        s1 = mqe5_rounding_shift(_mm512_add_epi32(_mm512_mullo_epi32(x1, k->mh1), l1), k->e1, k->mask1, k->half1);
        s2 = mqe5_rounding_shift(_mm512_add_epi32(_mm512_mullo_epi32(x2, k->mh2), l2), k->e2, k->mask2, k->half2);
    } else {
        s1 = mqe5_rounding_shift(mqe5_high_mul(_mm512_sllv_epi32(x1, k->lsh), k->m1), k->e1, k->mask1, k->half1);
        s2 = mqe5_rounding_shift(mqe5_high_mul(_mm512_sllv_epi32(x2, k->lsh), k->m2), k->e2, k->mask2, k->half2);
    }
    const __m512i raw = subtract ? _mm512_sub_epi32(s1, s2) : _mm512_add_epi32(s1, s2);
    const __m512i v = _mm512_add_epi32(mqe5_rounding_shift(mqe5_high_mul(raw, k->mo), k->eo, k->masko, k->halfo),
                                       k->out_off);
    return _mm512_min_epi32(_mm512_max_epi32(v, k->lo), k->hi);
}

/// Stores 64 clamped int32 values (four 16-lane vectors) as bytes: the packs work within 128-bit lanes, and one
/// permute restores the order.
MQ2_INLINE MQ5_T void mqe5_store64(uint8_t *out, __m512i v0, __m512i v1, __m512i v2, __m512i v3,
                                   const int is_signed) {
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i w01 = _mm512_packs_epi32(v0, v1), w23 = _mm512_packs_epi32(v2, v3);
    const __m512i bytes = is_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    _mm512_storeu_si512((void *)out, _mm512_permutexvar_epi32(order, bytes));
}

/// The first count / 64 * 64 elements, 64 per step (four 16-lane blocks, mqe5_store64); returns how many it did.
MQ2_INLINE MQ5_T int64_t mqe5_add_loop(const mqe_add *p, const uint8_t *a, const uint8_t *b, uint8_t *out,
                                       int64_t count, const int is_signed, const int subtract, const int sm) {
    const mqe_add_vectors k2 = mqe_vectors(p);
    const mqe5_add_vectors k = mqe5_vectors(&k2);
    int64_t i = 0;
    for (; i + 64 <= count; i += 64)
        mqe5_store64(out + i, mqe5_add16(&k, a + i, b + i, is_signed, subtract, sm),
                     mqe5_add16(&k, a + i + 16, b + i + 16, is_signed, subtract, sm),
                     mqe5_add16(&k, a + i + 32, b + i + 32, is_signed, subtract, sm),
                     mqe5_add16(&k, a + i + 48, b + i + 48, is_signed, subtract, sm), is_signed);
    return i;
}

/// mqe5_add_loop specialised for the element type, operation and multiply form.
static MQ5_T __attribute__((noinline)) int64_t mqe5_add_run(const mqe_add *p, const uint8_t *x, const uint8_t *y,
                                                            uint8_t *z, int64_t count) {
    const int sm = mqe_short_multiply(p);
#define MQE5_CASE(S, SUB, SM) if (p->is_signed == S && p->subtract == SUB && sm == SM) \
    return mqe5_add_loop(p, x, y, z, count, S, SUB, SM);
    MQE5_CASE(1, 0, 1) MQE5_CASE(0, 0, 1) MQE5_CASE(1, 1, 1) MQE5_CASE(0, 1, 1)
    MQE5_CASE(1, 0, 0) MQE5_CASE(0, 0, 0) MQE5_CASE(1, 1, 0) MQE5_CASE(0, 1, 0)
#undef MQE5_CASE
    return 0;
}

MQ2_T void mqe_add_run(const mqe_add *p, const void *a, const void *b, void *out, int64_t count) {
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    uint8_t *z = (uint8_t *)out;
    // With AVX-512 the whole 64-element blocks first; the rest (and a CPU without it) on the AVX2 loops below.
    if (mq5_cpu_supported() && count >= 64) {
        const int64_t done = mqe5_add_run(p, x, y, z, count);
        x += done; y += done; z += done; count -= done;
        if (count == 0) return;
    }
    // One specialised loop per element type, operation and multiply form (the flags are constants inside each).
    if (mqe_short_multiply(p)) {
        if (p->is_signed) {
            if (p->subtract) mqe_add_loop(p, x, y, z, count, 1, 1, 1); else mqe_add_loop(p, x, y, z, count, 1, 0, 1);
        } else {
            if (p->subtract) mqe_add_loop(p, x, y, z, count, 0, 1, 1); else mqe_add_loop(p, x, y, z, count, 0, 0, 1);
        }
    } else {
        if (p->is_signed) {
            if (p->subtract) mqe_add_loop(p, x, y, z, count, 1, 1, 0); else mqe_add_loop(p, x, y, z, count, 1, 0, 0);
        } else {
            if (p->subtract) mqe_add_loop(p, x, y, z, count, 0, 1, 0); else mqe_add_loop(p, x, y, z, count, 0, 0, 0);
        }
    }
}

// MARK: XNNPACK's ADD (mqe_shifted_add)

/// 8 outputs of mqe_shifted_add as clamped int32 lanes.
MQ2_INLINE MQ2_T __m256i mqe_shifted8(const mqe_shifted_add *p, const uint8_t *a, const uint8_t *b,
                                      const int is_signed) {
    __m256i acc = _mm256_add_epi32(_mm256_set1_epi32(p->bias),
                                   _mm256_mullo_epi32(mqe_widen8(a, is_signed), _mm256_set1_epi32(p->multiplier1)));
    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(mqe_widen8(b, is_signed), _mm256_set1_epi32(p->multiplier2)));
    const __m256i v = _mm256_add_epi32(_mm256_sra_epi32(acc, _mm_cvtsi32_si128(p->shift)),
                                       _mm256_set1_epi32(p->output_offset));
    return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(p->act_min)), _mm256_set1_epi32(p->act_max));
}

/// 32 elements of mqe_shifted_add.
MQ2_INLINE MQ2_T void mqe_shifted32(const mqe_shifted_add *p, const uint8_t *a, const uint8_t *b, uint8_t *out,
                                    const int is_signed) {
    mqe_store32(out, mqe_shifted8(p, a, b, is_signed), mqe_shifted8(p, a + 8, b + 8, is_signed),
                mqe_shifted8(p, a + 16, b + 16, is_signed), mqe_shifted8(p, a + 24, b + 24, is_signed), is_signed);
}

/// 16 outputs of mqe_shifted_add as clamped int32 lanes (AVX-512).
MQ2_INLINE MQ5_T __m512i mqe5_shifted16(const mqe_shifted_add *p, const uint8_t *a, const uint8_t *b,
                                        const int is_signed) {
    const __m128i ra = _mm_loadu_si128((const __m128i *)a), rb = _mm_loadu_si128((const __m128i *)b);
    const __m512i x1 = is_signed ? _mm512_cvtepi8_epi32(ra) : _mm512_cvtepu8_epi32(ra);
    const __m512i x2 = is_signed ? _mm512_cvtepi8_epi32(rb) : _mm512_cvtepu8_epi32(rb);
    __m512i acc = _mm512_add_epi32(_mm512_set1_epi32(p->bias),
                                   _mm512_mullo_epi32(x1, _mm512_set1_epi32(p->multiplier1)));
    acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(x2, _mm512_set1_epi32(p->multiplier2)));
    const __m512i v = _mm512_add_epi32(_mm512_sra_epi32(acc, _mm_cvtsi32_si128(p->shift)),
                                       _mm512_set1_epi32(p->output_offset));
    return _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(p->act_min)), _mm512_set1_epi32(p->act_max));
}

/// The first count / 64 * 64 elements of mqe_shifted_add on AVX-512; returns how many it did.
MQ2_INLINE MQ5_T int64_t mqe5_shifted_loop(const mqe_shifted_add *p, const uint8_t *a, const uint8_t *b,
                                           uint8_t *out, int64_t count, const int is_signed) {
    int64_t i = 0;
    for (; i + 64 <= count; i += 64)
        mqe5_store64(out + i, mqe5_shifted16(p, a + i, b + i, is_signed),
                     mqe5_shifted16(p, a + i + 16, b + i + 16, is_signed),
                     mqe5_shifted16(p, a + i + 32, b + i + 32, is_signed),
                     mqe5_shifted16(p, a + i + 48, b + i + 48, is_signed), is_signed);
    return i;
}

static MQ5_T __attribute__((noinline)) int64_t mqe5_shifted_run(const mqe_shifted_add *p, const uint8_t *a,
                                                                const uint8_t *b, uint8_t *out, int64_t count) {
    return p->is_signed ? mqe5_shifted_loop(p, a, b, out, count, 1) : mqe5_shifted_loop(p, a, b, out, count, 0);
}

/// The whole range in 32-element blocks (MQE_BLOCKS32).
MQ2_INLINE MQ2_T void mqe_shifted_loop(const mqe_shifted_add *p, const uint8_t *a, const uint8_t *b, uint8_t *out,
                                       int64_t count, const int is_signed) {
#define MQE_SHIFTED_STEP(x, y, z) mqe_shifted32(p, x, y, z, is_signed)
    MQE_BLOCKS32(a, b, out, count, MQE_SHIFTED_STEP);
#undef MQE_SHIFTED_STEP
}

MQ2_T void mqe_shifted_add_run(const mqe_shifted_add *p, const void *a, const void *b, void *out, int64_t count) {
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    uint8_t *z = (uint8_t *)out;
    if (mq5_cpu_supported() && count >= 64) {
        const int64_t done = mqe5_shifted_run(p, x, y, z, count);
        x += done; y += done; z += done; count -= done;
        if (count == 0) return;
    }
    if (p->is_signed) mqe_shifted_loop(p, x, y, z, count, 1); else mqe_shifted_loop(p, x, y, z, count, 0);
}

#else

// No vector kernels on this architecture: `mqe_cpu_supported()` is 0 and Swift never calls the stub.
int mqe_cpu_supported(void) { return 0; }
void mqe_add_run(const mqe_add *p, const void *a, const void *b, void *out, int64_t count) {
    (void)p; (void)a; (void)b; (void)out; (void)count;
}
void mqe_shifted_add_run(const mqe_shifted_add *p, const void *a, const void *b, void *out, int64_t count) {
    (void)p; (void)a; (void)b; (void)out; (void)count;
}

#endif
