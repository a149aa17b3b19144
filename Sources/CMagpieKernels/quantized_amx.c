// AMX (Advanced Matrix Extensions) GEMM for Magpie's quantized convolutions.
//
// An AMX tile register holds 16 rows of 64 bytes. TDPBSSD / TDPBUSD multiply a 16 x 64-byte tile of A (16 pixels,
// 64 input channels) by a tile of B (16 groups of 4 input channels x 16 output channels, each row 16 x 4 bytes)
// and add the 16 x 16 int32 dot products into a third tile: 16384 multiply-adds per instruction, about eight times
// what AVX-512 VNNI does per cycle on the same core.
//
// The filter layout is the VNNI GEMM's, `[np/16][kp/4][16 columns][4 k]`: 16 consecutive groups of 4 k of one
// 16-column panel are exactly one B tile (16 rows of 64 bytes). Here the reduction is padded with zero filter
// bytes to the tile step (`kstep`: kp itself when it is at most 64, else 64), so every tile is whole.
//
// A is read straight from the input tensor (row stride a_stride) whenever every byte a tile load touches lies
// inside it: a last step's bytes past k belong to the next pixel (or the padding) and meet zero filter bytes, so
// they add nothing. Row blocks at the end of the tensor are copied into a zero-padded buffer first. A windowed
// convolution (`window` set) gathers each block's receptive fields into that buffer.
//
// Signs: int8 models multiply int8 by int8 (TDPBSSD), so nothing is flipped and `-zx * sum(w)` is folded into the
// bias; uint8 models use the VNNI GEMM's unsigned x signed form (TDPBUSD on `w - 128`) with the same per-row
// correction `(128 - zw) * rowsum(x)`. The accumulation wraps modulo 2^32 like the reference's int32 accumulator, and
// the requantization is mq5_rq on the same records, so the bytes are the reference's.
#include "CMagpieKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "avx2_common.h"

#define MQA_T __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
#define MQA_INLINE static inline __attribute__((always_inline))

/// Linux's arch_prctl request that lets a process use the AMX tile data state (XFEATURE_XTILEDATA).
enum { MQA_ARCH_REQ_XCOMP_PERM = 0x1023, MQA_XFEATURE_XTILEDATA = 18 };

static int mqa_supported = -1;

static int mqa_detect(void) {
    const char *isa = getenv("MAGPIE_MAX_ISA");
    if (isa != NULL && (strcmp(isa, "generic") == 0 || strcmp(isa, "avx2") == 0 || strcmp(isa, "avx512") == 0))
        return 0;
    if (!mq_cpu_supported()) return 0;
    // CPUID leaf 7: EDX bit 24 AMX-TILE, bit 25 AMX-INT8.
    unsigned a = 7, b = 0, c = 0, d = 0;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if (!((d >> 24) & 1) || !((d >> 25) & 1)) return 0;
    // The kernel must enable the tile state (XCR0 bits 17 and 18) and grant it to this process.
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return 0;
#if defined(__linux__)
    if (syscall(SYS_arch_prctl, MQA_ARCH_REQ_XCOMP_PERM, MQA_XFEATURE_XTILEDATA) != 0) return 0;
    return 1;
#else
    return 0;
#endif
}

int mqa_cpu_supported(void) { return mq_cached_check(&mqa_supported, mqa_detect); }

enum { MQA_MB = 32 };

/// Requantizes a 32 x (16 * panels) block of accumulators (`acc`, row stride 32 int32) for rows below `rows` and
/// columns below n, adding the bias and each row's correction (uint8 models), and stores the bytes.
MQA_INLINE MQA_T void mqa_epilogue(const mq_gemm *p, const int32_t *acc, const int32_t *corr, int32_t rows,
                                   int32_t col0, int32_t panels, uint8_t *c, const int mode, const int is_signed) {
    const __m512i *r0 = (const __m512i *)(p->rq + (size_t)(col0 / 16) * MQ_RQ16_INTS);
    if (panels == 2 && p->n - col0 >= 32) {
        // Two rows of 32 columns at a time: four requantized vectors saturate to int16, then to bytes, in one
        // VPACKSSDW pair and one VPACKSS/USWB; one VPERMD restores the order and one clamp covers 64 outputs.
        const __m512i *r1 = r0 + MQ_RQ16_INTS / 16;
        const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        const __m512i lo = _mm512_set1_epi8((char)p->act_min), hi = _mm512_set1_epi8((char)p->act_max);
        int32_t r = 0;
        for (; r + 1 < rows; r += 2) {
            const int32_t *x = acc + (size_t)r * 32;
            __m512i v00 = _mm512_loadu_si512(x), v01 = _mm512_loadu_si512(x + 16);
            __m512i v10 = _mm512_loadu_si512(x + 32), v11 = _mm512_loadu_si512(x + 48);
            const __m512i b0 = _mm512_loadu_si512(r0), b1 = _mm512_loadu_si512(r1);
            v00 = _mm512_add_epi32(v00, b0); v01 = _mm512_add_epi32(v01, b1);
            v10 = _mm512_add_epi32(v10, b0); v11 = _mm512_add_epi32(v11, b1);
            if (corr != NULL) {
                const __m512i c0 = _mm512_set1_epi32(corr[r]), c1 = _mm512_set1_epi32(corr[r + 1]);
                v00 = _mm512_add_epi32(v00, c0); v01 = _mm512_add_epi32(v01, c0);
                v10 = _mm512_add_epi32(v10, c1); v11 = _mm512_add_epi32(v11, c1);
            }
            const __m512i w0 = _mm512_packs_epi32(mq5_rq(v00, r0, mode), mq5_rq(v01, r1, mode));
            const __m512i w1 = _mm512_packs_epi32(mq5_rq(v10, r0, mode), mq5_rq(v11, r1, mode));
            __m512i b = is_signed ? _mm512_packs_epi16(w0, w1) : _mm512_packus_epi16(w0, w1);
            b = _mm512_permutexvar_epi32(order, b);
            if (mode != MQ2_MODE_LINEAR && mode != MQ2_MODE_FLOAT) {
                b = is_signed ? _mm512_min_epi8(_mm512_max_epi8(b, lo), hi) : _mm512_min_epu8(_mm512_max_epu8(b, lo), hi);
            }
            _mm256_storeu_si256((__m256i *)(c + (size_t)r * p->c_stride + col0), _mm512_castsi512_si256(b));
            _mm256_storeu_si256((__m256i *)(c + (size_t)(r + 1) * p->c_stride + col0), _mm512_extracti64x4_epi64(b, 1));
        }
        if (r == rows) return;
        // An odd last row: the general loop below, for that row only.
        acc += (size_t)r * 32;
        c += (size_t)r * p->c_stride;
        if (corr != NULL) corr += r;
        rows = 1;
    }
    const __m512i lo = _mm512_set1_epi32(p->act_min), hi = _mm512_set1_epi32(p->act_max);
    for (int32_t z = 0; z < panels; z++) {
        const int32_t col = col0 + z * 16;
        if (col >= p->n) break;
        const int32_t left = p->n - col;
        const __mmask16 nm = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512i *r16 = r0 + z * (MQ_RQ16_INTS / 16);
        for (int32_t r = 0; r < rows; r++) {
            __m512i v = _mm512_loadu_si512(acc + (size_t)r * 32 + z * 16);
            v = _mm512_add_epi32(v, _mm512_loadu_si512(r16));
            if (corr != NULL) v = _mm512_add_epi32(v, _mm512_set1_epi32(corr[r]));
            v = _mm512_min_epi32(_mm512_max_epi32(mq5_rq(v, r16, mode), lo), hi);
            _mm_mask_storeu_epi8(c + (size_t)r * p->c_stride + col, nm, _mm512_cvtepi32_epi8(v));
        }
    }
}

/// One row block (32 rows of A at `a`, row stride `as`) against the panels [j0, j1).
MQA_INLINE MQA_T void mqa_block(const mq_gemm *p, const uint8_t *a, size_t as, const int32_t *corr, int32_t rows,
                                int32_t j0, int32_t j1, uint8_t *c, int32_t *acc, const int mode, const int is_signed) {
    const int32_t kp = p->kp, kstep = kp < 64 ? kp : 64;
    const size_t bpanel = (size_t)kp * 16;
    const uint8_t *a1 = a + 16 * as;
    for (int32_t j = j0; j < j1; j += 2) {
        const int8_t *b0 = p->b + (size_t)j * bpanel;
        if (j + 1 < j1) {
            const int8_t *b1 = b0 + bpanel;
            // (Starting the accumulators at the bias, a tile load of one row with stride 0, made the 112 x 112
            // expansion about 1.5 times slower than adding it in the epilogue.)
            _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
            for (int32_t g = 0; g < kp; g += kstep) {
                _tile_loadd(4, a + g, as);
                _tile_loadd(5, a1 + g, as);
                _tile_loadd(6, b0 + (size_t)g * 16, 64);
                _tile_loadd(7, b1 + (size_t)g * 16, 64);
                if (is_signed) {
                    _tile_dpbssd(0, 4, 6); _tile_dpbssd(1, 4, 7); _tile_dpbssd(2, 5, 6); _tile_dpbssd(3, 5, 7);
                } else {
                    _tile_dpbusd(0, 4, 6); _tile_dpbusd(1, 4, 7); _tile_dpbusd(2, 5, 6); _tile_dpbusd(3, 5, 7);
                }
            }
            _tile_stored(0, acc, 128);
            _tile_stored(1, acc + 16, 128);
            _tile_stored(2, acc + 16 * 32, 128);
            _tile_stored(3, acc + 16 * 32 + 16, 128);
            mqa_epilogue(p, acc, corr, rows, j * 16, 2, c, mode, is_signed);
        } else {
            _tile_zero(0); _tile_zero(2);
            for (int32_t g = 0; g < kp; g += kstep) {
                _tile_loadd(4, a + g, as);
                _tile_loadd(5, a1 + g, as);
                _tile_loadd(6, b0 + (size_t)g * 16, 64);
                if (is_signed) { _tile_dpbssd(0, 4, 6); _tile_dpbssd(2, 5, 6); }
                else { _tile_dpbusd(0, 4, 6); _tile_dpbusd(2, 5, 6); }
            }
            _tile_stored(0, acc, 128);
            _tile_stored(2, acc + 16 * 32, 128);
            mqa_epilogue(p, acc, corr, rows, j * 16, 1, c, mode, is_signed);
        }
    }
}

/// Row sums (times row_corr) of `rows` rows of k bytes for the uint8 correction.
MQA_INLINE MQA_T void mqa_row_sums(const mq_gemm *p, const uint8_t *a, size_t as, int32_t rows, int32_t *corr) {
    const int32_t k = p->k;
    for (int32_t r = 0; r < MQA_MB; r++) {
        if (r >= rows) { corr[r] = 0; continue; }
        const uint8_t *src = a + (size_t)r * as;
        __m512i sum = _mm512_setzero_si512();
        for (int32_t i = 0; i < k; i += 64) {
            const __mmask64 m = (k - i) >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (k - i)) - 1);
            sum = _mm512_add_epi64(sum, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, src + i), _mm512_setzero_si512()));
        }
        corr[r] = p->row_corr * (int32_t)_mm512_reduce_add_epi64(sum);
    }
}

/// Copies `rows` receptive fields, from GEMM row r0 on, into `abuf` (row stride kp): one run of kw * c bytes per
/// filter row where the window lies inside the input horizontally, else tap by tap; taps outside the input are the
/// input zero point. Bytes [k, kp) of each row are left as they are (zero: they meet zero filter bytes anyway).
/// A run of at most 16 bytes inside the input goes as one unmasked 16-byte copy: the bytes past the run land on the
/// row's later runs, its bytes [k, kp) or the next rows, all written (or meeting zero filter bytes) after it, and on
/// at most 15 bytes past the last row, which `abuf`'s 64 spare bytes hold. C harness, MobileNetV2's first layer (9-byte
/// runs): 236 -> 126 us per image against one masked load and store; in the model the layer 0.549 -> 0.531 ms (int8)
/// and 0.634 -> 0.584 (uint8), one thread, interpreters alternating.
MQA_INLINE MQA_T void mqa_gather(const mq_gemm *p, int32_t r0, int32_t rows, uint8_t *abuf) {
    const mq_window *w = p->window;
    const int32_t c = w->c, run = w->kw * c, kp = p->kp;
    const uint8_t zp = (uint8_t)w->in_zp;
    const uint8_t *end = p->a + p->a_size;
    int32_t b = r0 / (w->oh * w->ow);
    const int32_t rem = r0 % (w->oh * w->ow);
    int32_t oy = rem / w->ow, ox = rem % w->ow;
    for (int32_t r = 0; r < rows; r++) {
        uint8_t *d = abuf + (size_t)r * kp;
        const int32_t x0 = ox * w->sw - w->pw;
        const int inside_x = w->dw == 1 && x0 >= 0 && x0 + w->kw <= w->iw;
        for (int32_t fy = 0; fy < w->kh; fy++, d += run) {
            const int32_t y = oy * w->sh - w->ph + w->dh * fy;
            if (y < 0 || y >= w->ih) { memset(d, zp, (size_t)run); continue; }
            const uint8_t *line = p->a + ((size_t)b * w->ih + y) * w->iw * c;
            if (inside_x) {
                const uint8_t *src = line + (size_t)x0 * c;
                if (run <= 16 && src + 16 <= end) {
                    // Not past the input's end: the 16 bytes read may run into the next pixels or rows.
                    _mm_storeu_si128((__m128i *)d, _mm_loadu_si128((const __m128i *)src));
                } else if (run <= 64) {
                    // One masked load and store (MobileNetV2's first layer: 9 bytes); masked-off bytes are not read.
                    const __mmask64 m = run == 64 ? ~(__mmask64)0 : (((__mmask64)1 << run) - 1);
                    _mm512_mask_storeu_epi8(d, m, _mm512_maskz_loadu_epi8(m, src));
                } else {
                    memcpy(d, line + (size_t)x0 * c, (size_t)run);
                }
                continue;
            }
            for (int32_t fx = 0; fx < w->kw; fx++) {
                const int32_t x = x0 + w->dw * fx;
                if (x < 0 || x >= w->iw) memset(d + fx * c, zp, (size_t)c);
                else memcpy(d + fx * c, line + (size_t)x * c, (size_t)c);
            }
        }
        if (++ox == w->ow) { ox = 0; if (++oy == w->oh) { oy = 0; b++; } }
    }
}

MQA_INLINE MQA_T void mqa_task(const mq_gemm *p, int32_t task, const int mode, const int is_signed) {
    // Panels in pairs (four accumulator tiles).
    int32_t mb0, mb1, j0, j1;
    mq_task_range(p, task, MQA_MB, 2, &mb0, &mb1, &j0, &j1);
    if (mb0 >= mb1 || j0 >= j1) return;
    const int32_t kp = p->kp;
    int32_t acc[MQA_MB * 32] __attribute__((aligned(64)));
    int32_t corr[MQA_MB];
    uint8_t *abuf = NULL;
    if (p->window != NULL) {
        abuf = __builtin_alloca((size_t)MQA_MB * kp + 64);
        memset(abuf, 0, (size_t)MQA_MB * kp);
    }
    // A tiles of kstep bytes, B tiles of kstep / 4 rows (groups of 4 bytes).
    mq_tile_configure(kp < 64 ? kp : 64, (kp < 64 ? kp : 64) / 4);
    for (int32_t mb = mb0; mb < mb1; mb++) {
        const int32_t r0 = mb * MQA_MB;
        const int32_t rows = p->m - r0 < MQA_MB ? p->m - r0 : MQA_MB;
        const uint8_t *a;
        size_t as;
        if (p->window != NULL) {
            // Rows past m keep the previous block's fields: computed, never stored.
            mqa_gather(p, r0, rows, abuf);
            a = abuf;
            as = (size_t)kp;
        } else {
            a = p->a + (size_t)r0 * p->a_stride;
            as = (size_t)p->a_stride;
            // The last byte a tile load reads: row 31, reduction byte kp - 1.
            if (rows < MQA_MB || (int64_t)(r0 + MQA_MB - 1) * p->a_stride + kp > p->a_size) {
                if (abuf == NULL) abuf = __builtin_alloca((size_t)MQA_MB * kp + 64);
                memset(abuf, 0, (size_t)MQA_MB * kp);
                for (int32_t r = 0; r < rows; r++) memcpy(abuf + (size_t)r * kp, a + (size_t)r * as, (size_t)p->k);
                a = abuf;
                as = (size_t)kp;
            }
        }
        if (!is_signed) mqa_row_sums(p, a, as, rows, corr);
        mqa_block(p, a, as, is_signed ? NULL : corr, rows, j0, j1, p->c + (size_t)r0 * p->c_stride, acc, mode,
                  is_signed);
    }
    _tile_release();
}

MQA_T void mqa_gemm_task(const mq_gemm *p, int32_t task) {
    const int s = p->flip != 0;
    switch (p->rq_mode) {
    case MQ2_MODE_RELU: if (s) mqa_task(p, task, MQ2_MODE_RELU, 1); else mqa_task(p, task, MQ2_MODE_RELU, 0); break;
    case MQ2_MODE_LINEAR: if (s) mqa_task(p, task, MQ2_MODE_LINEAR, 1); else mqa_task(p, task, MQ2_MODE_LINEAR, 0); break;
    case MQ2_MODE_FLOAT: if (s) mqa_task(p, task, MQ2_MODE_FLOAT, 1); else mqa_task(p, task, MQ2_MODE_FLOAT, 0); break;
    default: if (s) mqa_task(p, task, MQ2_MODE_GENERAL, 1); else mqa_task(p, task, MQ2_MODE_GENERAL, 0); break;
    }
}

#else

int mqa_cpu_supported(void) { return 0; }
void mqa_gemm_task(const mq_gemm *p, int32_t task) { (void)p; (void)task; }

#endif
