// Float GEMM in bfloat16 on AMX-BF16 tiles (`mfa_`), or with AVX512_BF16's VDPBF16PS where there is no AMX
// (`mfb_`, the same packing, rounding and results up to the order of the fp32 sums): the pointwise float
// convolutions of the opt-in bfloat16 precision (`FloatPrecision.bfloat16`).
//
// TDPBF16PS multiplies a 16 x 32 tile of bfloat16 A (16 pixels, 32 input channels) by a tile of B (16 pairs of
// input channels x 16 output channels) and adds the products, each exact in fp32, into a 16 x 16 tile of fp32 sums
// (RNE, denormals flushed, MXCSR ignored). Both operands are rounded to bfloat16 (8 significant bits, RNE), so each
// product errs by up to about 2^-8 relative; the sums, the bias and the clamp are fp32. In the tests' measure
// (relative error, floored at 1% of the largest output) MobileNetV2's GEMM shapes err by 0.16-0.26.
//
// Tiles (palette 1): 0-3 the fp32 accumulators of a 32-row x 32-column block, 4-5 A tiles (16 rows x kstep bf16),
// 6-7 B tiles (kstep / 2 rows of 16 columns x 2 bf16). B is packed at prepare as `[np/16][kp/2][16 columns][2 k]`,
// kp the reduction padded with zeros to the tile step. Each 32-row block of A is rounded into `abuf` ([32][kp]
// bf16, zeros past k) once and meets every panel pair of the call. mfa_gemm_rows stores through a buffer (bias,
// clamp, residual ADD, partial columns); mfa_gemm_planar, the fused expansion of mf_expand_dw_rows, stores each
// 16-pixel x 16-channel tile straight into the ring's planar block of those channels, then adds the bias in place.
//
// (Tried: exact float32 on the same tiles, each float split into three bfloat16 parts and six products summed,
// "bf16x6". Its error was below the fp32 GEMM's, but in a C harness it ran at 0.5-1.3 times the fp32 AVX-512 GEMM's
// speed on MobileNetV2's shapes, so the float32 precision stays on FMAs. See docs/performance.md.)
#include "CMagpieKernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include "avx2_common.h"

#define MFA_T __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")))
/// The AVX512_BF16 form (no AMX): VDPBF16PS on 512-bit registers.
#define MFB_T __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")))
#define MFA_INLINE static inline __attribute__((always_inline))

static int mfa_supported = -1, mfb_supported = -1;

/// CPUID leaf 7 subleaf 1, EAX bit 5: AVX512_BF16.
static int mfa_has_avx512_bf16(void) {
    unsigned a = 7, b = 0, c = 1, d = 0;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (a >> 5) & 1;
}

static int mfa_detect(void) {
    // mqa_cpu_supported checks AMX-TILE, the OS's tile state and MAGPIE_MAX_ISA, and requests the permission.
    // mq5_cpu_supported: AVX-512 F/BW/VL/DQ, so that the fused expansion's ring is in 16-channel blocks.
    if (!mqa_cpu_supported() || !mq5_cpu_supported()) return 0;
    // CPUID leaf 7: EDX bit 22 AMX-BF16; subleaf 1: EAX bit 5 AVX512_BF16 (the split's conversions).
    unsigned a = 7, b = 0, c = 0, d = 0;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if (!((d >> 22) & 1)) return 0;
    return mfa_has_avx512_bf16();
}

int mfa_cpu_supported(void) { return mq_cached_check(&mfa_supported, mfa_detect); }

static int mfb_detect(void) { return mfa_cpu_supported() || (mq5_cpu_supported() && mfa_has_avx512_bf16()); }

int mfa_bf16_supported(void) { return mq_cached_check(&mfb_supported, mfb_detect); }

/// bfloat16 of x, rounded to nearest even (the bits of VCVTNEPS2BF16 for finite, normal x).
static uint16_t mfa_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return (uint16_t)((u >> 16) | ((u & 0xffffu) ? 0x40u : 0u));
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;  // denormals flush to zero, as VCVTNEPS2BF16 does
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void mfa_pack(const float *w, int32_t k, int32_t n, int32_t kp, uint16_t *out) {
    const int32_t np = (n + 15) / 16;
    memset(out, 0, (size_t)np * 16 * (size_t)kp * 2);
    for (int32_t j = 0; j < n; j++) {
        uint16_t *panel = out + (size_t)(j / 16) * kp * 16;
        for (int32_t i = 0; i < k; i++)
            panel[(size_t)(i / 2) * 32 + (j % 16) * 2 + i % 2] = mfa_bf16(w[(size_t)j * k + i]);
    }
}

enum { MFA_MB = 32 };

/// Rounds `rows` rows of A (k floats each, row stride `as`) to bf16 rows of kp in `abuf`. Columns past k get zeros;
/// rows past `rows` keep what the buffer held: their products are computed, never stored.
MFA_INLINE MFB_T void mfa_round(const float *a, size_t as, int32_t rows, int32_t k, int32_t kp, uint16_t *abuf) {
    for (int32_t r = 0; r < rows; r++) {
        const float *src = a + (size_t)r * as;
        uint16_t *d = abuf + (size_t)r * kp;
        for (int32_t i = 0; i < kp; i += 16) {
            const __mmask16 m = k - i >= 16 ? (__mmask16)0xFFFF : k > i ? (__mmask16)((1u << (k - i)) - 1u) : 0;
            // kp is a multiple of 16, or below 32 and even: the last store may be partial.
            const __mmask16 sm = kp - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (kp - i)) - 1u);
            _mm256_mask_storeu_epi16(d + i, sm, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i)));
        }
    }
}

/// One block's products: A rows 0-15 and 16-31 at `a` (row stride kp) against panels b0 and, when `two`, b1.
MFA_INLINE MFA_T void mfa_steps(const uint16_t *a, int32_t kp, int32_t kstep, const uint16_t *b0, const uint16_t *b1,
                                int two) {
    const size_t as = (size_t)kp * 2;
    const uint16_t *a1 = a + (size_t)16 * kp;
    for (int32_t g = 0; g < kp; g += kstep) {
        _tile_loadd(4, a + g, as);
        _tile_loadd(5, a1 + g, as);
        _tile_loadd(6, b0 + (size_t)g * 16, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(2, 5, 6);
        if (two) {
            _tile_loadd(7, b1 + (size_t)g * 16, 64);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
}

/// Zeroes the accumulators and multiplies the rounded block in `abuf` by panel j, and by panel j + 1 when `two`.
MFA_INLINE MFA_T void mfa_multiply(const mfa_gemm *p, const uint16_t *abuf, int32_t kstep, int32_t j, int two) {
    const size_t bpanel = (size_t)p->kp * 16;
    const uint16_t *b0 = p->b + (size_t)j * bpanel;
    _tile_zero(0); _tile_zero(2);
    if (two) { _tile_zero(1); _tile_zero(3); }
    mfa_steps(abuf, p->kp, kstep, b0, b0 + bpanel, two);
}

/// Stores `rows` rows of a 32 x (16 * panels) accumulator block: bias, clamp, and the residual ADD when `add` is set.
MFA_INLINE MFB_T void mfa_store(const mfa_gemm *p, const float *acc, int32_t rows, int32_t col0, int32_t panels,
                                float *c, size_t cs, const float *add, float add_lo, float add_hi) {
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    const __m512 alo = _mm512_set1_ps(add_lo), ahi = _mm512_set1_ps(add_hi);
    for (int32_t z = 0; z < panels; z++) {
        const int32_t col = col0 + z * 16;
        if (col >= p->n) break;
        const int32_t left = p->n - col;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512 bias = _mm512_loadu_ps(p->bias + col);
        for (int32_t r = 0; r < rows; r++) {
            __m512 v = _mm512_add_ps(_mm512_loadu_ps(acc + (size_t)r * 32 + z * 16), bias);
            if (p->clamps) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            if (add != NULL) {
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, add + (size_t)r * cs + col));
                v = _mm512_min_ps(_mm512_max_ps(v, alo), ahi);
            }
            _mm512_mask_storeu_ps(c + (size_t)r * cs + col, m, v);
        }
    }
}

/// Where mfb_block stores: planar blocks (mfa_gemm_planar: column j of row r at c[(j / 16) * stride + r * 16 +
/// j % 16]) or rows (mfa_gemm_rows: c[r * stride + j], columns below n, with the residual `add` when set).
typedef struct {
    float *c; size_t stride; int planar;
    const float *add; float add_lo, add_hi;
} mfb_out;

/// The AVX512_BF16 form of a block's products and stores (CPUs without AMX-BF16): A rows 0 to `rows` of `abuf`
/// times panel j, and panel j + 1 when `two`; each sum gets the bias and the clamp (and the residual) in registers
/// and is stored where `o` says, rows counted from the block's first. Per step of two k, each row's bf16 pair is
/// broadcast and VDPBF16PS adds its two products to 16 columns; groups of 8 rows x 2 panels (or 16 rows x 1 panel)
/// keep 16 sums in flight. Rows past `rows` (within the 32 of `abuf`) are computed when their group is, never
/// stored. Each output sums the same products in the same k order through either entry point, and gets the same
/// bias and clamp, so mfa_gemm_rows and mfa_gemm_planar give the same bits.
MFA_INLINE MFB_T void mfb_block(const mfa_gemm *p, const uint16_t *abuf, int32_t rows, int32_t j, int two,
                                const mfb_out *o, const int32_t *live, const int32_t *counts) {
    const int32_t kp = p->kp;
    const size_t bpanel = (size_t)kp * 16;
    const uint16_t *b0 = p->b + (size_t)j * bpanel, *b1 = b0 + bpanel;
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    const __m512 alo = _mm512_set1_ps(o->add_lo), ahi = _mm512_set1_ps(o->add_hi);
    const __m512 bias[2] = {_mm512_loadu_ps(p->bias + j * 16), two ? _mm512_loadu_ps(p->bias + j * 16 + 16)
                                                                   : _mm512_setzero_ps()};
    // Columns of each panel below n (rows mode: the last panel may be partial).
    __mmask16 cm[2];
    for (int z = 0; z < 2; z++) {
        const int32_t left = p->n - (j + z) * 16;
        cm[z] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1u) : 0;
    }
#define MFB_UNROLL _Pragma("clang loop unroll(full)")
    // With `live` (groups of 8 rows): step t of group q is pair live[q * kp / 2 + t], of counts[q] steps.
#define MFB_GROUP(R, Z)                                                                                               \
    for (int32_t r0 = 0; r0 < rows; r0 += (R)) {                                                                      \
        __m512 sum[(R) * (Z)];                                                                                        \
        MFB_UNROLL for (int i = 0; i < (R) * (Z); i++) sum[i] = _mm512_setzero_ps();                                 \
        const uint16_t *ar = abuf + (size_t)r0 * kp;                                                                  \
        const int32_t *steps = live != NULL ? live + (size_t)(r0 / 8) * (kp / 2) : NULL;                              \
        const int32_t nsteps = live != NULL ? counts[r0 / 8] : kp / 2;                                                \
        for (int32_t t = 0; t < nsteps; t++) {                                                                        \
            const int32_t g = steps != NULL ? 2 * steps[t] : 2 * t;                                                   \
            const __m512bh w0 = (__m512bh)_mm512_loadu_si512((const void *)(b0 + (size_t)g * 16));                   \
            const __m512bh w1 = (Z) == 2 ? (__m512bh)_mm512_loadu_si512((const void *)(b1 + (size_t)g * 16)) : w0;   \
            MFB_UNROLL for (int r = 0; r < (R); r++) {                                                                \
                int32_t pair;                                                                                         \
                memcpy(&pair, ar + (size_t)r * kp + g, 4);                                                            \
                const __m512bh x = (__m512bh)_mm512_set1_epi32(pair);                                                 \
                sum[r * (Z)] = _mm512_dpbf16_ps(sum[r * (Z)], x, w0);                                                 \
                if ((Z) == 2) sum[r * (Z) + 1] = _mm512_dpbf16_ps(sum[r * (Z) + 1], x, w1);                           \
            }                                                                                                         \
        }                                                                                                             \
        MFB_UNROLL for (int r = 0; r < (R); r++) {                                                                    \
            const int32_t row = r0 + r;                                                                               \
            if (row >= rows) break;                                                                                   \
            MFB_UNROLL for (int z = 0; z < (Z); z++) {                                                                \
                __m512 v = _mm512_add_ps(sum[r * (Z) + z], bias[z]);                                                  \
                if (p->clamps) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);                                          \
                if (o->planar) {                                                                                      \
                    _mm512_storeu_ps(o->c + (size_t)(j + z) * o->stride + (size_t)row * 16, v);                       \
                } else {                                                                                              \
                    const size_t at = (size_t)row * o->stride + (size_t)(j + z) * 16;                                 \
                    if (o->add != NULL) {                                                                             \
                        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(cm[z], o->add + at));                             \
                        v = _mm512_min_ps(_mm512_max_ps(v, alo), ahi);                                                \
                    }                                                                                                 \
                    _mm512_mask_storeu_ps(o->c + at, cm[z], v);                                                       \
                }                                                                                                     \
            }                                                                                                         \
        }                                                                                                             \
    }
    // One row (a classifier's pixel): two chains, as its time is streaming the weights.
    if (rows == 1) { if (two) { MFB_GROUP(1, 2) } else { MFB_GROUP(1, 1) } }
    else if (two) { MFB_GROUP(8, 2) } else if (live != NULL) { MFB_GROUP(8, 1) } else { MFB_GROUP(16, 1) }
#undef MFB_GROUP
#undef MFB_UNROLL
}

/// The live steps of each group of 8 rows of a rounded block (`rows` rows of kp bf16 at abuf): the pairs of k at
/// which one of the group's rows is nonzero, in order, at live + q * kp / 2 for group q, their number in counts[q].
/// A group's rows past `rows` are read too (the caller zeroes them).
MFA_INLINE MFB_T void mfb_live_steps(const uint16_t *abuf, int32_t kp, int32_t rows, int32_t *live, int32_t *counts) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int32_t q = 0; q * 8 < rows; q++) {
        int32_t *out = live + (size_t)q * (kp / 2), n = 0;
        for (int32_t g = 0; g < kp; g += 32) {
            // 16 pairs (dwords) per vector; kp is even, so a last partial vector holds whole pairs.
            const __mmask16 m = kp - g >= 32 ? (__mmask16)0xFFFF : (__mmask16)((1u << ((kp - g) / 2)) - 1u);
            __m512i any = _mm512_setzero_si512();
            for (int32_t r = 0; r < 8; r++)
                any = _mm512_or_si512(any, _mm512_maskz_loadu_epi32(m, abuf + (size_t)(q * 8 + r) * kp + g));
            const __mmask16 nonzero = _mm512_test_epi32_mask(any, any);
            _mm512_mask_compressstoreu_epi32(out + n, nonzero, _mm512_add_epi32(lane, _mm512_set1_epi32(g / 2)));
            n += __builtin_popcount((unsigned)nonzero);
        }
        counts[q] = n;
    }
}

/// The largest padded reduction for which mfb_gemm_rows lists live steps (its lists live on the stack: 8 * kp bytes).
enum { MFB_MAX_LISTED_KP = 4096 };

/// mfa_gemm_rows on AVX512_BF16.
static MFB_T void mfb_gemm_rows(const mfa_gemm *p, const float *a, int32_t a_stride, float *c, int32_t c_stride,
                                int32_t r0, int32_t r1, int32_t j0, int32_t j1, uint16_t *abuf, const float *add,
                                float add_lo, float add_hi) {
    const size_t as = (size_t)a_stride, cs = (size_t)c_stride;
    const int lists = p->skips && p->kp <= MFB_MAX_LISTED_KP;
    int32_t live[lists ? 4 * (p->kp / 2) : 1], counts[4];
    for (int32_t r = r0; r < r1; r += MFA_MB) {
        const int32_t rows = r1 - r < MFA_MB ? r1 - r : MFA_MB;
        mfa_round(a + (size_t)r * as, as, rows, p->k, p->kp, abuf);
        if (lists) {
            // The last group's rows past `rows` as zeros, so that they keep no step live.
            const int32_t end = (rows + 7) / 8 * 8;
            memset(abuf + (size_t)rows * p->kp, 0, (size_t)(end - rows) * (size_t)p->kp * 2);
            mfb_live_steps(abuf, p->kp, rows, live, counts);
        }
        const mfb_out o = {c + (size_t)r * cs, cs, 0, add != NULL ? add + (size_t)r * cs : NULL, add_lo, add_hi};
        for (int32_t j = j0; j < j1; j += 2) mfb_block(p, abuf, rows, j, j + 1 < j1, &o, lists ? live : NULL, counts);
    }
}

/// mfa_gemm_planar on AVX512_BF16.
static MFB_T void mfb_gemm_planar(const mfa_gemm *p, const float *a, int32_t a_stride, int32_t rows, float *c,
                                  size_t block_stride, int32_t j0, int32_t j1, uint16_t *abuf) {
    const size_t as = (size_t)a_stride;
    for (int32_t r = 0; r < rows; r += MFA_MB) {
        const int32_t left = rows - r < MFA_MB ? rows - r : MFA_MB;
        mfa_round(a + (size_t)r * as, as, left, p->k, p->kp, abuf);
        const mfb_out o = {c + (size_t)r * 16, block_stride, 1, NULL, 0, 0};
        for (int32_t j = j0; j < j1; j += 2) mfb_block(p, abuf, left, j, j + 1 < j1, &o, NULL, NULL);
    }
}

MFA_T void mfa_gemm_rows(const mfa_gemm *p, const float *a, int32_t a_stride, float *c, int32_t c_stride, int32_t r0,
                         int32_t r1, int32_t j0, int32_t j1, uint16_t *abuf, const float *add, float add_lo,
                         float add_hi) {
    if (r0 >= r1 || j0 >= j1) return;
    if (!mfa_cpu_supported()) {
        mfb_gemm_rows(p, a, a_stride, c, c_stride, r0, r1, j0, j1, abuf, add, add_lo, add_hi);
        return;
    }
    const int32_t kp = p->kp, kstep = kp < 32 ? kp : 32;
    const size_t as = (size_t)a_stride, cs = (size_t)c_stride;
    float acc[MFA_MB * 32] __attribute__((aligned(64)));
    mq_tile_configure(kstep * 2, kstep / 2);  // A: kstep bf16 per row; B: kstep / 2 rows of pairs
    for (int32_t r = r0; r < r1; r += MFA_MB) {
        const int32_t rows = r1 - r < MFA_MB ? r1 - r : MFA_MB;
        mfa_round(a + (size_t)r * as, as, rows, p->k, kp, abuf);
        for (int32_t j = j0; j < j1; j += 2) {
            const int two = j + 1 < j1;
            mfa_multiply(p, abuf, kstep, j, two);
            _tile_stored(0, acc, 128);
            _tile_stored(2, acc + 16 * 32, 128);
            if (two) { _tile_stored(1, acc + 16, 128); _tile_stored(3, acc + 16 * 32 + 16, 128); }
            mfa_store(p, acc, rows, j * 16, two ? 2 : 1, c + (size_t)r * cs, cs,
                      add != NULL ? add + (size_t)r * cs : NULL, add_lo, add_hi);
        }
    }
    _tile_release();
}

/// Adds the bias to `rows` (<= 16) planar rows of 16 channels at `c` and clamps them.
MFA_INLINE MFB_T void mfa_bias_planar(const mfa_gemm *p, float *c, int32_t rows, __m512 bias) {
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
    for (int32_t r = 0; r < rows; r++) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(c + r * 16), bias);
        if (p->clamps) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        _mm512_storeu_ps(c + r * 16, v);
    }
}

MFA_T void mfa_gemm_planar(const mfa_gemm *p, const float *a, int32_t a_stride, int32_t rows, float *c,
                           size_t block_stride, int32_t j0, int32_t j1, uint16_t *abuf) {
    if (rows <= 0 || j0 >= j1) return;
    if (!mfa_cpu_supported()) {
        mfb_gemm_planar(p, a, a_stride, rows, c, block_stride, j0, j1, abuf);
        return;
    }
    const int32_t kp = p->kp, kstep = kp < 32 ? kp : 32;
    const size_t as = (size_t)a_stride;
    float acc[16 * 16] __attribute__((aligned(64)));
    mq_tile_configure(kstep * 2, kstep / 2);
    for (int32_t r = 0; r < rows; r += MFA_MB) {
        const int32_t left = rows - r < MFA_MB ? rows - r : MFA_MB;
        mfa_round(a + (size_t)r * as, as, left, p->k, kp, abuf);
        for (int32_t j = j0; j < j1; j += 2) {
            const int two = j + 1 < j1;
            mfa_multiply(p, abuf, kstep, j, two);
            // Each accumulator tile is 16 pixels x one block of 16 channels: whole tiles go straight into the planar
            // rows (64 bytes per pixel), a partial one through `acc`.
            for (int32_t z = 0; z < (two ? 2 : 1); z++) {
                float *block = c + (size_t)(j + z) * block_stride + (size_t)r * 16;
                const __m512 bias = _mm512_loadu_ps(p->bias + (j + z) * 16);
                for (int32_t h = 0; h < 2; h++) {
                    const int32_t n = left - 16 * h < 16 ? left - 16 * h : 16;
                    if (n <= 0) break;
                    float *dst = block + h * 256;
                    if (n == 16) {
                        // Tile numbers must be constants: tile 2h + z.
                        if (h == 0) { if (z == 0) _tile_stored(0, dst, 64); else _tile_stored(1, dst, 64); }
                        else { if (z == 0) _tile_stored(2, dst, 64); else _tile_stored(3, dst, 64); }
                    } else {
                        if (h == 0) { if (z == 0) _tile_stored(0, acc, 64); else _tile_stored(1, acc, 64); }
                        else { if (z == 0) _tile_stored(2, acc, 64); else _tile_stored(3, acc, 64); }
                        memcpy(dst, acc, (size_t)n * 64);
                    }
                    mfa_bias_planar(p, dst, n, bias);
                }
            }
        }
    }
    _tile_release();
}

#else

int mfa_cpu_supported(void) { return 0; }
int mfa_bf16_supported(void) { return 0; }
void mfa_pack(const float *w, int32_t k, int32_t n, int32_t kp, uint16_t *out) {
    (void)w; (void)k; (void)n; (void)kp; (void)out;
}
void mfa_gemm_planar(const mfa_gemm *p, const float *a, int32_t a_stride, int32_t rows, float *c,
                     size_t block_stride, int32_t j0, int32_t j1, uint16_t *abuf) {
    (void)p; (void)a; (void)a_stride; (void)rows; (void)c; (void)block_stride; (void)j0; (void)j1; (void)abuf;
}
void mfa_gemm_rows(const mfa_gemm *p, const float *a, int32_t a_stride, float *c, int32_t c_stride, int32_t r0,
                   int32_t r1, int32_t j0, int32_t j1, uint16_t *abuf, const float *add, float add_lo, float add_hi) {
    (void)p; (void)a; (void)a_stride; (void)c; (void)c_stride; (void)r0; (void)r1; (void)j0; (void)j1; (void)abuf;
    (void)add; (void)add_lo; (void)add_hi;
}

#endif
