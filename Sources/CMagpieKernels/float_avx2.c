// AVX2 + FMA kernels for Magpie's float32 operators, for x86-64 CPUs; Swift calls them only when
// `mf_cpu_supported()` says the CPU has AVX2 and FMA (every function carries the target attribute, so the package
// still builds for generic x86-64 and, as stubs, for other architectures).
//
// The GEMM (mf_gemm): a task's row tiles and weight panels, each through a register tile of up to 6 rows x 16
// columns (12 accumulators) with the same FMA order as the Swift tile. Other convolutions (mf_conv_rows) use the
// same tile on receptive fields read in place, one run per filter row, gathering only tiles that touch the padding.
//
// DEPTHWISE_CONV_2D (multiplier 1): 8 channels per vector; each output is the bias plus the taps in raster order,
// one FMA each, the same order and rounding as the Swift kernel it replaces. 3x3 windows with dilation 1 take a
// row-pointer path: taps above or below the input read a row of zeros, so no tap is bounds-checked (the extra
// 0 x w terms can only change the sign of an exact zero sum, for finite filters), and the border columns leave out
// their taps beside the input. A last partial block of channels uses masked loads and stores: nothing outside the
// tensors is touched.
//
// The 1x1 classifier on one pixel (mf_gemv_kmajor) has its weights k-major, so that zero inputs skip whole rows.
#include "CMagpieKernels.h"
#include <string.h>

#if defined(__x86_64__)
#include "avx2_common.h"

int mf_cpu_supported(void) { return mq2_cpu_has_avx2(); }

/// M(n) for a count n in 1...7 with n a compile-time constant (the pixel pairs or pixels left after a kernel's whole
/// steps), so that each count gets its own unrolled code; the caller skips n = 0.
#define MF_BY_COUNT7(n, M)                                                                                            \
    switch (n) {                                                                                                      \
    case 1: M(1); break;                                                                                              \
    case 2: M(2); break;                                                                                              \
    case 3: M(3); break;                                                                                              \
    case 4: M(4); break;                                                                                              \
    case 5: M(5); break;                                                                                              \
    case 6: M(6); break;                                                                                              \
    default: M(7); break;                                                                                             \
    }

/// The lane mask of the first `n` (1...8) lanes.
MQ2_INLINE MQ2_T __m256i mf_mask(int32_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

MQ2_INLINE MQ2_T __m256 mf_load(const float *p, const int full, __m256i mask) {
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}

MQ2_INLINE MQ2_T void mf_store(float *p, __m256 v, const int full, __m256i mask) {
    if (full) _mm256_storeu_ps(p, v); else _mm256_maskstore_ps(p, mask, v);
}

/// `x < lo ? lo : x`, then `x > hi ? hi : x`, per lane: the reference's clamp, NaN passing through. (MAXPS and
/// MINPS return their second operand when either is NaN, so the bound goes first.)
MQ2_INLINE MQ2_T __m256 mf_clamp(__m256 x, __m256 lo, __m256 hi) {
    return _mm256_min_ps(hi, _mm256_max_ps(lo, x));
}

/// One output pixel, channels [cb, cb + 8) (the first `n` of them), any window, taps outside the input skipped.
MQ2_INLINE MQ2_T void mf_dw_pixel(const mf_dw *p, int32_t b, int32_t oy, int32_t ox, int32_t cb, const int full,
                                  __m256i mask, float *out) {
    const int32_t c = p->c;
    const int32_t y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw;
    __m256 acc = mf_load(p->bias + cb, full, mask);
    for (int32_t fy = 0; fy < p->kh; fy++) {
        const int32_t y = y0 + fy * p->dh;
        if (y < 0 || y >= p->ih) continue;
        for (int32_t fx = 0; fx < p->kw; fx++) {
            const int32_t x = x0 + fx * p->dw;
            if (x < 0 || x >= p->iw) continue;
            const float *src = p->in + (((size_t)b * p->ih + y) * p->iw + x) * c + cb;
            const float *w = p->w + (size_t)(fy * p->kw + fx) * c + cb;
            acc = _mm256_fmadd_ps(mf_load(src, full, mask), mf_load(w, full, mask), acc);
        }
    }
    acc = mf_clamp(acc, _mm256_set1_ps(p->lo), _mm256_set1_ps(p->hi));
    mf_store(out + cb, acc, full, mask);
}

/// One output row of a 3x3 window with dilation 1, channels [cb, cb + 8): `r0..r2` point at this channel block of
/// the window's three input rows (or of the zero row), whose column x is at x * xs (NHWC rows: xs = c; planar rows:
/// xs = 8). The columns [ox_lo, ox_hi), whose windows lie inside the input, take the unrolled nine-FMA loop; the
/// others (one or two per side) skip their taps left or right of the input, as the reference does, with the same
/// filter vectors in registers.
MQ2_INLINE MQ2_T void mf_dw_run3(const mf_dw *p, const float *r0, const float *r1, const float *r2, int32_t ox_lo,
                                 int32_t ox_hi, int32_t cb, const int full, __m256i mask, float *out_row,
                                 const int32_t xs) {
    const int32_t c = p->c;
    const float *w = p->w + cb;
    const __m256 w0 = mf_load(w, full, mask), w1 = mf_load(w + c, full, mask), w2 = mf_load(w + 2 * c, full, mask);
    const __m256 w3 = mf_load(w + 3 * c, full, mask), w4 = mf_load(w + 4 * c, full, mask);
    const __m256 w5 = mf_load(w + 5 * c, full, mask), w6 = mf_load(w + 6 * c, full, mask);
    const __m256 w7 = mf_load(w + 7 * c, full, mask), w8 = mf_load(w + 8 * c, full, mask);
    const __m256 bias = mf_load(p->bias + cb, full, mask);
    const __m256 lo = _mm256_set1_ps(p->lo), hi = _mm256_set1_ps(p->hi);
    // A border column: only the taps (fy, fx) whose column x0 + fx is inside, in raster order.
#define MF_DW_TAP(r, fx, wv)                                                                                          \
    if (x0 + (fx) >= 0 && x0 + (fx) < p->iw)                                                                         \
        e = _mm256_fmadd_ps(mf_load((r) + (size_t)(x0 + (fx)) * xs, full, mask), wv, e)
#define MF_DW_EDGE(ox)                                                                                                \
    do {                                                                                                              \
        const int32_t x0 = (ox) * p->sw - p->pw;                                                                      \
        __m256 e = bias;                                                                                              \
        MF_DW_TAP(r0, 0, w0); MF_DW_TAP(r0, 1, w1); MF_DW_TAP(r0, 2, w2);                                             \
        MF_DW_TAP(r1, 0, w3); MF_DW_TAP(r1, 1, w4); MF_DW_TAP(r1, 2, w5);                                             \
        MF_DW_TAP(r2, 0, w6); MF_DW_TAP(r2, 1, w7); MF_DW_TAP(r2, 2, w8);                                             \
        mf_store(out_row + (size_t)(ox) * c + cb, mf_clamp(e, lo, hi), full, mask);                                   \
    } while (0)
    if (ox_lo >= ox_hi) ox_lo = ox_hi = p->ow;
    for (int32_t ox = 0; ox < ox_lo; ox++) MF_DW_EDGE(ox);
    const size_t step = (size_t)p->sw * xs;
    size_t x = ((size_t)ox_lo * p->sw - p->pw) * xs;
    for (int32_t ox = ox_lo; ox < ox_hi; ox++, x += step) {
        __m256 a = _mm256_fmadd_ps(mf_load(r0 + x, full, mask), w0, bias);
        a = _mm256_fmadd_ps(mf_load(r0 + x + xs, full, mask), w1, a);
        a = _mm256_fmadd_ps(mf_load(r0 + x + 2 * xs, full, mask), w2, a);
        a = _mm256_fmadd_ps(mf_load(r1 + x, full, mask), w3, a);
        a = _mm256_fmadd_ps(mf_load(r1 + x + xs, full, mask), w4, a);
        a = _mm256_fmadd_ps(mf_load(r1 + x + 2 * xs, full, mask), w5, a);
        a = _mm256_fmadd_ps(mf_load(r2 + x, full, mask), w6, a);
        a = _mm256_fmadd_ps(mf_load(r2 + x + xs, full, mask), w7, a);
        a = _mm256_fmadd_ps(mf_load(r2 + x + 2 * xs, full, mask), w8, a);
        mf_store(out_row + (size_t)ox * c + cb, mf_clamp(a, lo, hi), full, mask);
    }
    for (int32_t ox = ox_hi; ox < p->ow; ox++) MF_DW_EDGE(ox);
#undef MF_DW_EDGE
#undef MF_DW_TAP
}

/// Where a GEMM writes: output row r, column j at c + r * row + (j / 16) * panel + (j % 16 < 8 ? 0 : half)
/// + j % 8. NHWC rows (mf_nhwc): row = the row stride, panel = 16, half = 8. The fused kernel's planar ring rows
/// (mf_planar): channel block j / 8 of pixel r at (j / 8) * 8 * width + r * 8, so that the depthwise kernel reads
/// each block's pixels contiguously. With `adds` (NHWC only), the residual ADD fused after the convolution: each
/// output becomes clamp(output + residual, add_lo, add_hi), the residual element `add_bytes` bytes after the
/// output's place (the ADD's own arithmetic, in the ADD's operand order: float addition commutes).
typedef struct {
    size_t row, panel, half;
    int adds;
    uintptr_t add_bytes;
    float add_lo, add_hi;
} mf_out;

MQ2_INLINE mf_out mf_nhwc(int32_t row_stride) {
    const mf_out o = {(size_t)row_stride, 16, 8, 0, 0, 0, 0};
    return o;
}

MQ2_INLINE mf_out mf_planar(int32_t width) {
    const mf_out o = {8, (size_t)16 * width, (size_t)8 * width, 0, 0, 0, 0};
    return o;
}

/// The planar ring rows in blocks of 16 channels (the AVX-512 kernels'): panel j / 16 of pixel r at
/// (j / 16) * 16 * width + r * 16, its two halves adjacent.
MQ2_INLINE mf_out mf_planar16(int32_t width) {
    const mf_out o = {16, (size_t)16 * width, 8, 0, 0, 0, 0};
    return o;
}

/// One row of a GEMM tile: 16 lanes in two vectors, the first `columns` stored (masked past them).
MQ2_INLINE MQ2_T void mf_store_row(float *dst, __m256 v0, __m256 v1, int32_t columns, float lo, float hi,
                                   int32_t clamps, const mf_out *o) {
    const size_t half = o->half;
    if (clamps) {
        const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
        v0 = mf_clamp(v0, vlo, vhi);
        v1 = mf_clamp(v1, vlo, vhi);
    }
    if (o->adds) {
        const float *r = (const float *)((uintptr_t)dst + o->add_bytes);
        const __m256 vlo = _mm256_set1_ps(o->add_lo), vhi = _mm256_set1_ps(o->add_hi);
        const int full0 = columns >= 8, full1 = columns >= 16;
        v0 = mf_clamp(_mm256_add_ps(v0, mf_load(r, full0, mf_mask(columns >= 8 ? 8 : columns))), vlo, vhi);
        if (columns > 8)
            v1 = mf_clamp(_mm256_add_ps(v1, mf_load(r + half, full1, mf_mask(columns - 8))), vlo, vhi);
    }
    if (columns >= 16) {
        _mm256_storeu_ps(dst, v0);
        _mm256_storeu_ps(dst + half, v1);
    } else {
        _mm256_maskstore_ps(dst, mf_mask(columns >= 8 ? 8 : columns), v0);
        if (columns > 8) _mm256_maskstore_ps(dst + half, mf_mask(columns - 8), v1);
    }
}

/// Where a tile's A rows come from: row r's k values are `segments` runs of `run` floats, run s at
/// row[r] + s * stride. A GEMM's row is one run of k; a convolution's receptive field inside the input is one run
/// of kw * c floats per filter row (dilation 1 across), read in place instead of gathered.
/// With `ks` set (one segment), only the k indices ks[0..nk) are read: mf_gemm's list of the steps at which some
/// row of the tile is nonzero.
typedef struct {
    const float *row[6];
    int32_t segments, run;
    size_t stride;
    const int32_t *ks;
    int32_t nk;
} mf_rows;

/// For each 8-bit mask, the positions of its set bits in order (3 bits each) and, from bit 24, how many there are.
static const uint32_t mf_live_lanes[256] = {
    0x00000000, 0x01000000, 0x01000001, 0x02000008, 0x01000002, 0x02000010, 0x02000011, 0x03000088,
    0x01000003, 0x02000018, 0x02000019, 0x030000c8, 0x0200001a, 0x030000d0, 0x030000d1, 0x04000688,
    0x01000004, 0x02000020, 0x02000021, 0x03000108, 0x02000022, 0x03000110, 0x03000111, 0x04000888,
    0x02000023, 0x03000118, 0x03000119, 0x040008c8, 0x0300011a, 0x040008d0, 0x040008d1, 0x05004688,
    0x01000005, 0x02000028, 0x02000029, 0x03000148, 0x0200002a, 0x03000150, 0x03000151, 0x04000a88,
    0x0200002b, 0x03000158, 0x03000159, 0x04000ac8, 0x0300015a, 0x04000ad0, 0x04000ad1, 0x05005688,
    0x0200002c, 0x03000160, 0x03000161, 0x04000b08, 0x03000162, 0x04000b10, 0x04000b11, 0x05005888,
    0x03000163, 0x04000b18, 0x04000b19, 0x050058c8, 0x04000b1a, 0x050058d0, 0x050058d1, 0x0602c688,
    0x01000006, 0x02000030, 0x02000031, 0x03000188, 0x02000032, 0x03000190, 0x03000191, 0x04000c88,
    0x02000033, 0x03000198, 0x03000199, 0x04000cc8, 0x0300019a, 0x04000cd0, 0x04000cd1, 0x05006688,
    0x02000034, 0x030001a0, 0x030001a1, 0x04000d08, 0x030001a2, 0x04000d10, 0x04000d11, 0x05006888,
    0x030001a3, 0x04000d18, 0x04000d19, 0x050068c8, 0x04000d1a, 0x050068d0, 0x050068d1, 0x06034688,
    0x02000035, 0x030001a8, 0x030001a9, 0x04000d48, 0x030001aa, 0x04000d50, 0x04000d51, 0x05006a88,
    0x030001ab, 0x04000d58, 0x04000d59, 0x05006ac8, 0x04000d5a, 0x05006ad0, 0x05006ad1, 0x06035688,
    0x030001ac, 0x04000d60, 0x04000d61, 0x05006b08, 0x04000d62, 0x05006b10, 0x05006b11, 0x06035888,
    0x04000d63, 0x05006b18, 0x05006b19, 0x060358c8, 0x05006b1a, 0x060358d0, 0x060358d1, 0x071ac688,
    0x01000007, 0x02000038, 0x02000039, 0x030001c8, 0x0200003a, 0x030001d0, 0x030001d1, 0x04000e88,
    0x0200003b, 0x030001d8, 0x030001d9, 0x04000ec8, 0x030001da, 0x04000ed0, 0x04000ed1, 0x05007688,
    0x0200003c, 0x030001e0, 0x030001e1, 0x04000f08, 0x030001e2, 0x04000f10, 0x04000f11, 0x05007888,
    0x030001e3, 0x04000f18, 0x04000f19, 0x050078c8, 0x04000f1a, 0x050078d0, 0x050078d1, 0x0603c688,
    0x0200003d, 0x030001e8, 0x030001e9, 0x04000f48, 0x030001ea, 0x04000f50, 0x04000f51, 0x05007a88,
    0x030001eb, 0x04000f58, 0x04000f59, 0x05007ac8, 0x04000f5a, 0x05007ad0, 0x05007ad1, 0x0603d688,
    0x030001ec, 0x04000f60, 0x04000f61, 0x05007b08, 0x04000f62, 0x05007b10, 0x05007b11, 0x0603d888,
    0x04000f63, 0x05007b18, 0x05007b19, 0x0603d8c8, 0x05007b1a, 0x0603d8d0, 0x0603d8d1, 0x071ec688,
    0x0200003e, 0x030001f0, 0x030001f1, 0x04000f88, 0x030001f2, 0x04000f90, 0x04000f91, 0x05007c88,
    0x030001f3, 0x04000f98, 0x04000f99, 0x05007cc8, 0x04000f9a, 0x05007cd0, 0x05007cd1, 0x0603e688,
    0x030001f4, 0x04000fa0, 0x04000fa1, 0x05007d08, 0x04000fa2, 0x05007d10, 0x05007d11, 0x0603e888,
    0x04000fa3, 0x05007d18, 0x05007d19, 0x0603e8c8, 0x05007d1a, 0x0603e8d0, 0x0603e8d1, 0x071f4688,
    0x030001f5, 0x04000fa8, 0x04000fa9, 0x05007d48, 0x04000faa, 0x05007d50, 0x05007d51, 0x0603ea88,
    0x04000fab, 0x05007d58, 0x05007d59, 0x0603eac8, 0x05007d5a, 0x0603ead0, 0x0603ead1, 0x071f5688,
    0x04000fac, 0x05007d60, 0x05007d61, 0x0603eb08, 0x05007d62, 0x0603eb10, 0x0603eb11, 0x071f5888,
    0x05007d63, 0x0603eb18, 0x0603eb19, 0x071f58c8, 0x0603eb1a, 0x071f58d0, 0x071f58d1, 0x08fac688,
};

/// The indices i < k, ascending, at which at least one of the tile's `rows` A rows is nonzero (+0 and -0 count as
/// zero; NaN does not), into `ks` (room for k + 8 entries); returns how many. Eight indices per step: the rows' bits
/// ORed, compared with zero, and the live lanes' positions stored from the table.
MQ2_INLINE MQ2_T int32_t mf_live_steps(const mf_rows *a, int32_t rows, int32_t k, int32_t *ks) {
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff), seven = _mm256_set1_epi32(7);
    const __m256i shifts = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    int32_t n = 0, i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256i bits = _mm256_loadu_si256((const __m256i *)(a->row[0] + i));
        for (int32_t r = 1; r < rows; r++)
            bits = _mm256_or_si256(bits, _mm256_loadu_si256((const __m256i *)(a->row[r] + i)));
        const __m256i dead = _mm256_cmpeq_epi32(_mm256_and_si256(bits, magnitude), _mm256_setzero_si256());
        const uint32_t entry = mf_live_lanes[~(uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(dead)) & 0xff];
        const __m256i lanes = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int32_t)entry), shifts), seven);
        _mm256_storeu_si256((__m256i *)(ks + n), _mm256_add_epi32(lanes, _mm256_set1_epi32(i)));
        n += (int32_t)(entry >> 24);
    }
    for (; i < k; i++) {
        uint32_t bits = 0;
        for (int32_t r = 0; r < rows; r++) {
            uint32_t v;
            memcpy(&v, a->row[r] + i, 4);
            bits |= v;
        }
        ks[n] = i;
        n += (bits & 0x7fffffff) != 0;
    }
    return n;
}

/// Stores a tile's R rows of accumulators (acc[2r], acc[2r + 1]) through mf_store_row. A whole panel (V = 2, 16
/// columns) without a residual ADD takes a path with no test per row: the clamp on every accumulator, then two
/// stores per row (C harness, 224 rows x 96 columns in L1: K = 16 37.2 -> 41.7 GMAC/s, K = 24 41.4 -> 44.8, K = 96
/// 48.3 -> 49.3; the general store's branches and reloaded bounds were a fixed cost per tile).
MQ2_INLINE MQ2_T void mf_tile_store(const __m256 *acc, float *c, const mf_out *o, int32_t columns, float lo,
                                    float hi, int32_t clamps, const int R, const int V) {
    if (V == 2 && columns == 16 && !o->adds) {
        __m256 v[12];
        for (int r = 0; r < 2 * R; r++) v[r] = acc[r];
        if (clamps) {
            const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
            for (int r = 0; r < 2 * R; r++) v[r] = mf_clamp(v[r], vlo, vhi);
        }
        for (int r = 0; r < R; r++) {
            _mm256_storeu_ps(c + (size_t)r * o->row, v[2 * r]);
            _mm256_storeu_ps(c + (size_t)r * o->row + o->half, v[2 * r + 1]);
        }
        return;
    }
    for (int r = 0; r < R; r++)
        mf_store_row(c + (size_t)r * o->row, acc[2 * r], acc[2 * r + 1], columns, lo, hi, clamps, o);
}

/// The tile for exactly R rows (1...6) and V vectors of columns (2, or 1 for a panel's first 8 columns): R x V
/// accumulators, one broadcast per row and step, so a tile of fewer rows (the last of a GEMM, as in the 7x7 layers'
/// 49 = 8 x 6 + 1) or of at most 8 columns (the last panel of MobileNetV2's 24-channel projections) costs in
/// proportion. Each output is summed from its bias in k order with one FMA per step whatever R, V and the row
/// source are, so the bits do not depend on the tiling.
MQ2_INLINE MQ2_T void mf_tile_rows(const mf_rows *a, const float *b, const float *bias, float *c, mf_out o,
                                   int32_t columns, float lo, float hi, int32_t clamps, const int R, const int V) {
    __m256 acc[12];
    for (int r = 0; r < R; r++) {
        acc[2 * r] = _mm256_loadu_ps(bias);
        acc[2 * r + 1] = V == 2 ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    }
    if (a->ks != NULL) {
        // Only the listed steps: the others would add 0 x b to every accumulator.
        const float *ar[6];
        for (int r = 0; r < R; r++) ar[r] = a->row[r];
        const int32_t *ks = a->ks, nk = a->nk;
        for (int32_t j = 0; j < nk; j++) {
            const size_t i = (size_t)ks[j];
            const __m256 b0 = _mm256_loadu_ps(b + i * 16);
            const __m256 b1 = V == 2 ? _mm256_loadu_ps(b + i * 16 + 8) : b0;
            for (int r = 0; r < R; r++) {
                __m256 x = _mm256_broadcast_ss(ar[r] + i);
                // Keeps each broadcast next to its FMAs: otherwise LLVM hoists all six loads and spills accumulators.
                __asm__ volatile("" : "+x"(x));
                acc[2 * r] = _mm256_fmadd_ps(x, b0, acc[2 * r]);
                if (V == 2) acc[2 * r + 1] = _mm256_fmadd_ps(x, b1, acc[2 * r + 1]);
            }
        }
        mf_tile_store(acc, c, &o, columns, lo, hi, clamps, R, V);
        return;
    }
    const int32_t run = a->run;
    for (int32_t s = 0; s < a->segments; s++, b += (size_t)run * 16) {
        const float *ar[6];
        for (int r = 0; r < R; r++) ar[r] = a->row[r] + (size_t)s * a->stride;
        for (int32_t i = 0; i < run; i++) {
            const __m256 b0 = _mm256_loadu_ps(b + (size_t)i * 16);
            const __m256 b1 = V == 2 ? _mm256_loadu_ps(b + (size_t)i * 16 + 8) : b0;
            for (int r = 0; r < R; r++) {
                const __m256 x = _mm256_broadcast_ss(ar[r] + i);
                acc[2 * r] = _mm256_fmadd_ps(x, b0, acc[2 * r]);
                if (V == 2) acc[2 * r + 1] = _mm256_fmadd_ps(x, b1, acc[2 * r + 1]);
            }
        }
    }
    mf_tile_store(acc, c, &o, columns, lo, hi, clamps, R, V);
}

/// The register tile: c[r][j] = clamp(bias[j] + sum over i < k of a[r][i] * b[i][j]) for rows r < `rows` (1...6)
/// and the first `columns` (1...16) of one 16-wide packed weight panel, each sum in k order from the bias with one
/// FMA per step.
MQ2_INLINE MQ2_T void mf_tile(const mf_rows *a, int32_t rows, const float *b, const float *bias, float *c, mf_out o,
                          int32_t columns, float lo, float hi, int32_t clamps) {
#define MF_TILE(R, V) mf_tile_rows(a, b, bias, c, o, columns, lo, hi, clamps, R, V); break;
#define MF_TILES(V) switch (rows) { \
    case 1: MF_TILE(1, V) case 2: MF_TILE(2, V) case 3: MF_TILE(3, V) \
    case 4: MF_TILE(4, V) case 5: MF_TILE(5, V) default: MF_TILE(6, V) }
    if (columns > 8) { MF_TILES(2) } else { MF_TILES(1) }
#undef MF_TILES
#undef MF_TILE
}

/// R rows (1...4) x 24 columns: all 16 of panel `b` and the first 8 of the panel after it (its last `columns`, 1...8,
/// stored), 12 accumulators for 4 rows, each A broadcast feeding three FMAs. For GEMMs of 17-24 columns
/// (MobileNetV2's 24-channel projections): the 6 x 16 tile and a 6 x 8 one for the rest had the second panel's six
/// accumulators waiting on the FMA latency and read A twice; C harness, 3136 x 144 -> 24: 0.271 -> 0.218 ms. Each
/// output is summed from its bias in k order with one FMA per step, as in mf_tile_rows: the same bits.
MQ2_INLINE MQ2_T void mf_tile24_rows(const float *const *ar, int32_t k, const float *b, const float *bias, float *c,
                                     const mf_out *o, int32_t columns, float lo, float hi, int32_t clamps,
                                     const int R) {
    const float *b2 = b + (size_t)k * 16;
    __m256 acc[12];
    for (int r = 0; r < R; r++) {
        acc[3 * r] = _mm256_loadu_ps(bias);
        acc[3 * r + 1] = _mm256_loadu_ps(bias + 8);
        acc[3 * r + 2] = _mm256_loadu_ps(bias + 16);
    }
    for (int32_t i = 0; i < k; i++) {
        const __m256 v0 = _mm256_loadu_ps(b + (size_t)i * 16), v1 = _mm256_loadu_ps(b + (size_t)i * 16 + 8);
        for (int r = 0; r < R; r++) {
            const __m256 x = _mm256_broadcast_ss(ar[r] + i);
            // The third weight vector read by each FMA from memory (L1): held in a register it made 17 live
            // vectors, and LLVM spilled an accumulator. An opaque copy of the pointer per row keeps the loads
            // from being merged.
            const float *q = b2 + (size_t)i * 16;
            __asm__ volatile("" : "+r"(q));
            acc[3 * r] = _mm256_fmadd_ps(x, v0, acc[3 * r]);
            acc[3 * r + 1] = _mm256_fmadd_ps(x, v1, acc[3 * r + 1]);
            acc[3 * r + 2] = _mm256_fmadd_ps(x, _mm256_loadu_ps(q), acc[3 * r + 2]);
        }
    }
    for (int r = 0; r < R; r++) {
        mf_store_row(c + (size_t)r * o->row, acc[3 * r], acc[3 * r + 1], 16, lo, hi, clamps, o);
        mf_store_row(c + (size_t)r * o->row + o->panel, acc[3 * r + 2], acc[3 * r + 2], columns, lo, hi, clamps, o);
    }
}

/// Rows [0, rows) of A times panels p and p + 1 (the last, of 1...8 columns) through mf_tile24_rows: 4-row tiles,
/// then one of the remaining 1-3 rows.
MQ2_INLINE MQ2_T void mf_gemm24(int32_t k, const float *a, int32_t a_stride, int32_t rows, const float *b,
                                const float *bias, float *c, const mf_out *o, int32_t columns, float lo, float hi,
                                int32_t clamps) {
    for (int32_t r = 0; r < rows; r += 4) {
        const float *ar[4];
        const int32_t height = rows - r < 4 ? rows - r : 4;
        for (int32_t i = 0; i < height; i++) ar[i] = a + (size_t)(r + i) * a_stride;
        float *cr = c + (size_t)r * o->row;
        switch (height) {
        case 1: mf_tile24_rows(ar, k, b, bias, cr, o, columns, lo, hi, clamps, 1); break;
        case 2: mf_tile24_rows(ar, k, b, bias, cr, o, columns, lo, hi, clamps, 2); break;
        case 3: mf_tile24_rows(ar, k, b, bias, cr, o, columns, lo, hi, clamps, 3); break;
        default: mf_tile24_rows(ar, k, b, bias, cr, o, columns, lo, hi, clamps, 4); break;
        }
    }
}

// MARK: AVX-512 tile

MQ2_INLINE MQ5_T __m512 mf5_clamp(__m512 x, __m512 lo, __m512 hi) {
    return _mm512_min_ps(hi, _mm512_max_ps(lo, x));
}

/// One panel's 16 lanes of one tile row, the first `columns` (1...16) stored: lanes 0-7 at dst and 8-15 at
/// dst + o->half (one 16-lane store when they are adjacent, as in NHWC rows), with mf_store_row's clamp and
/// residual ADD (NHWC only).
MQ2_INLINE MQ5_T void mf5_store_panel(float *dst, __m512 v, int32_t columns, float lo, float hi, int32_t clamps,
                                      const mf_out *o) {
    const __mmask16 m = columns >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << columns) - 1u);
    if (clamps) v = mf5_clamp(v, _mm512_set1_ps(lo), _mm512_set1_ps(hi));
    if (o->adds) {
        const float *r = (const float *)((uintptr_t)dst + o->add_bytes);
        v = mf5_clamp(_mm512_add_ps(v, _mm512_maskz_loadu_ps(m, r)), _mm512_set1_ps(o->add_lo),
                      _mm512_set1_ps(o->add_hi));
    }
    if (o->half == 8) {
        _mm512_mask_storeu_ps(dst, m, v);
    } else {
        _mm256_mask_storeu_ps(dst, (__mmask8)m, _mm512_castps512_ps256(v));
        if (columns > 8) _mm256_mask_storeu_ps(dst + o->half, (__mmask8)(m >> 8), _mm512_extractf32x8_ps(v, 1));
    }
}

/// Stores an AVX-512 tile's accumulators: row r's panel q (q < P, P <= 3) from acc[P * r + q], `columns` of the P
/// panels, with the clamp and the residual ADD (mf5_store_panel). Whole panels without a residual take one store
/// per vector and no test. Unrolled, so that the accumulators stay in registers: with the tests inside a rolled
/// loop the compiler spilled them to a stack array before the stores.
MQ2_INLINE MQ5_T void mf5_store_block(const __m512 *acc, float *c, const mf_out *o, int32_t columns, float lo,
                                      float hi, int32_t clamps, const int R, const int P) {
    if (!o->adds && o->half == 8 && columns >= 16 * P) {
        const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
#pragma clang loop unroll(full)
            for (int q = 0; q < P; q++) {
                const __m512 v = acc[P * r + q];
                _mm512_storeu_ps(c + (size_t)r * o->row + (size_t)q * o->panel, clamps ? mf5_clamp(v, vlo, vhi) : v);
            }
        }
        return;
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
#pragma clang loop unroll(full)
        for (int q = 0; q < P; q++) {
            const int32_t left = columns - 16 * q;
            if (left > 0)
                mf5_store_panel(c + (size_t)r * o->row + (size_t)q * o->panel, acc[P * r + q], left < 16 ? left : 16,
                                lo, hi, clamps, o);
        }
    }
}

/// mf_tile_rows with 512-bit vectors: R rows (1...6) x P panels (1 or 2; panel 1's weights `b_next` floats after
/// panel 0's, its biases 16 after), R x P accumulators of 16 lanes, one broadcast per row and step feeding P FMAs.
/// Each output is summed from its bias in k order with one FMA per step, as in mf_tile_rows: the same bits.
MQ2_INLINE MQ5_T void mf5_tile_rows(const mf_rows *a, const float *b, size_t b_next, const float *bias, float *c,
                                    const mf_out *o, int32_t columns, float lo, float hi, int32_t clamps, const int R,
                                    const int P) {
    __m512 acc[12];
    const __m512 bias0 = _mm512_loadu_ps(bias), bias1 = P == 2 ? _mm512_loadu_ps(bias + 16) : bias0;
    for (int r = 0; r < R; r++) {
        acc[P * r] = bias0;
        if (P == 2) acc[P * r + 1] = bias1;
    }
    const float *b1p = b + b_next;
    if (a->ks != NULL) {
        const float *ar[6];
        for (int r = 0; r < R; r++) ar[r] = a->row[r];
        const int32_t *ks = a->ks, nk = a->nk;
        for (int32_t j = 0; j < nk; j++) {
            const size_t i = (size_t)ks[j];
            const __m512 b0 = _mm512_loadu_ps(b + i * 16);
            const __m512 b1 = P == 2 ? _mm512_loadu_ps(b1p + i * 16) : b0;
            for (int r = 0; r < R; r++) {
                __m512 x = _mm512_set1_ps(ar[r][i]);
                __asm__ volatile("" : "+v"(x));
                acc[P * r] = _mm512_fmadd_ps(x, b0, acc[P * r]);
                if (P == 2) acc[P * r + 1] = _mm512_fmadd_ps(x, b1, acc[P * r + 1]);
            }
        }
    } else {
        const int32_t run = a->run;
        for (int32_t s = 0; s < a->segments; s++, b += (size_t)run * 16, b1p += (size_t)run * 16) {
            const float *ar[6];
            for (int r = 0; r < R; r++) ar[r] = a->row[r] + (size_t)s * a->stride;
            for (int32_t i = 0; i < run; i++) {
                const __m512 b0 = _mm512_loadu_ps(b + (size_t)i * 16);
                const __m512 b1 = P == 2 ? _mm512_loadu_ps(b1p + (size_t)i * 16) : b0;
                for (int r = 0; r < R; r++) {
                    const __m512 x = _mm512_set1_ps(ar[r][i]);
                    acc[P * r] = _mm512_fmadd_ps(x, b0, acc[P * r]);
                    if (P == 2) acc[P * r + 1] = _mm512_fmadd_ps(x, b1, acc[P * r + 1]);
                }
            }
        }
    }
    mf5_store_block(acc, c, o, columns, lo, hi, clamps, R, P);
}

/// The AVX-512 register tile: rows r < `rows` (1...6) of A times one weight panel (`columns` <= 16) or two
/// (`columns` 17...32, the second panel k * 16 floats after the first), as mf_tile computes them.
static MQ5_T __attribute__((noinline)) void mf5_tile(const mf_rows *a, int32_t rows, const float *b, size_t b_next,
                                                     const float *bias, float *c, const mf_out *o, int32_t columns,
                                                     float lo, float hi, int32_t clamps) {
#define MF5_TILE(R, P) mf5_tile_rows(a, b, b_next, bias, c, o, columns, lo, hi, clamps, R, P); break;
#define MF5_TILES(P) switch (rows) { \
    case 1: MF5_TILE(1, P) case 2: MF5_TILE(2, P) case 3: MF5_TILE(3, P) \
    case 4: MF5_TILE(4, P) case 5: MF5_TILE(5, P) default: MF5_TILE(6, P) }
    if (columns > 16) { MF5_TILES(2) } else { MF5_TILES(1) }
#undef MF5_TILES
#undef MF5_TILE
}

/// mf5_tile_rows for a plain A block (row r's k values at a + r * a_stride) and P panels (1-3, each `b_next`
/// floats after the one before), R x P accumulators (at most 24), inlined into mf5_gemm_block's loops: the same
/// FMAs in the same order, so the same bits.
MQ2_INLINE MQ5_T void mf5_block_tile(const float *a, size_t a_stride, int32_t k, const float *b, size_t b_next,
                                     const float *bias, float *c, const mf_out *o, int32_t columns, float lo,
                                     float hi, int32_t clamps, const int R, const int P) {
    __m512 acc[24];
    const __m512 bias0 = _mm512_loadu_ps(bias), bias1 = P >= 2 ? _mm512_loadu_ps(bias + 16) : bias0;
    const __m512 bias2 = P == 3 ? _mm512_loadu_ps(bias + 32) : bias0;
    for (int r = 0; r < R; r++) {
        acc[P * r] = bias0;
        if (P >= 2) acc[P * r + 1] = bias1;
        if (P == 3) acc[P * r + 2] = bias2;
    }
    const float *b1p = b + b_next, *b2p = b + 2 * b_next;
    for (int32_t i = 0; i < k; i++) {
        const __m512 b0 = _mm512_loadu_ps(b + (size_t)i * 16);
        const __m512 b1 = P >= 2 ? _mm512_loadu_ps(b1p + (size_t)i * 16) : b0;
        const __m512 b2 = P == 3 ? _mm512_loadu_ps(b2p + (size_t)i * 16) : b0;
        for (int r = 0; r < R; r++) {
            const __m512 x = _mm512_set1_ps(a[(size_t)r * a_stride + (size_t)i]);
            acc[P * r] = _mm512_fmadd_ps(x, b0, acc[P * r]);
            if (P >= 2) acc[P * r + 1] = _mm512_fmadd_ps(x, b1, acc[P * r + 1]);
            if (P == 3) acc[P * r + 2] = _mm512_fmadd_ps(x, b2, acc[P * r + 2]);
        }
    }
    mf5_store_block(acc, c, o, columns, lo, hi, clamps, R, P);
}

/// `tiles` row tiles of R rows each (A's rows from `a`, outputs from `c`) times panels [p0, p1), tile by tile, two
/// panels per register tile: one call for what mf_tile_panels does one tile at a time, so that a small k
/// (MobileNetV2's expansions, k = 16-32) does not pay a call and the tile's set-up per 6 x 32 outputs. With the
/// unspilled stores above, C harness against the per-tile calls (same bits): the fused 112 x 112 16 -> 96 pair
/// 1.30x, the 56 x 56 and 28 x 28 pairs 1.13-1.21x, the 24-channel projections 1.41x (they ran 8 x 24 tiles
/// before), MobileNetV2's 21 GEMM shapes together 1.10-1.12x.
/// An odd number of panels ends with three in one tile, and a single panel takes two row tiles at a time: a tile
/// of R <= 6 rows x 16 columns has too few accumulators for the FMA latency (a C loop of 6 x 16 tiles: 74% of the
/// FMA peak; 12 x 16: 93%; 6 x 48: 99%).
MQ2_INLINE MQ5_T void mf5_gemm_block_rows(int32_t k, const float *a, size_t a_stride, int32_t tiles,
                                          const float *packed, const float *bias, float *c, const mf_out *o,
                                          int32_t n, int32_t p0, int32_t p1, float lo, float hi, int32_t clamps,
                                          const int R) {
    const size_t b_next = (size_t)k * 16;
    if (p1 - p0 == 1) {
        const float *b = packed + (size_t)p0 * b_next, *bp = bias + (size_t)p0 * 16;
        const int32_t left = n - p0 * 16, columns = left < 16 ? left : 16;
        c += (size_t)p0 * o->panel;
        int32_t t = 0;
        for (; t + 2 <= tiles; t += 2, a += (size_t)2 * R * a_stride, c += (size_t)2 * R * o->row)
            mf5_block_tile(a, a_stride, k, b, b_next, bp, c, o, columns, lo, hi, clamps, 2 * R, 1);
        if (t < tiles) mf5_block_tile(a, a_stride, k, b, b_next, bp, c, o, columns, lo, hi, clamps, R, 1);
        return;
    }
    // Pairs up to the last three panels where their count is odd.
    const int32_t pairs_end = (p1 - p0) % 2 == 1 ? p1 - 3 : p1;
    for (int32_t t = 0; t < tiles; t++, a += (size_t)R * a_stride, c += (size_t)R * o->row) {
        int32_t p = p0;
        for (; p < pairs_end; p += 2) {
            const int32_t left = n - p * 16;
            mf5_block_tile(a, a_stride, k, packed + (size_t)p * b_next, b_next, bias + (size_t)p * 16,
                           c + (size_t)p * o->panel, o, left < 32 ? left : 32, lo, hi, clamps, R, 2);
        }
        if (p < p1) {
            const int32_t left = n - p * 16;
            mf5_block_tile(a, a_stride, k, packed + (size_t)p * b_next, b_next, bias + (size_t)p * 16,
                           c + (size_t)p * o->panel, o, left < 48 ? left : 48, lo, hi, clamps, R, 3);
        }
    }
}

/// mf5_gemm_block_rows for R = `rows` (1...6).
static MQ5_T __attribute__((noinline)) void mf5_gemm_block(int32_t k, const float *a, size_t a_stride, int32_t rows,
                                                           int32_t tiles, const float *packed, const float *bias,
                                                           float *c, const mf_out *o, int32_t n, int32_t p0,
                                                           int32_t p1, float lo, float hi, int32_t clamps) {
    // A local copy, which the stores cannot alias, so its fields stay in registers.
    const mf_out out = *o;
#define MF5_BLOCK(R) mf5_gemm_block_rows(k, a, a_stride, tiles, packed, bias, c, &out, n, p0, p1, lo, hi, clamps, R)
    switch (rows) {
    case 1: MF5_BLOCK(1); break;
    case 2: MF5_BLOCK(2); break;
    case 3: MF5_BLOCK(3); break;
    case 4: MF5_BLOCK(4); break;
    case 5: MF5_BLOCK(5); break;
    default: MF5_BLOCK(6); break;
    }
#undef MF5_BLOCK
}

/// P pairs of A rows (rows 2q and 2q + 1 at a + 2q * a_stride, one a_stride apart) times a 24-column GEMM (panel 0
/// at `b`, panel 1's first 8 columns k * 16 floats after it), into NHWC rows 24 floats apart. A 6 x 32 tile wastes
/// a quarter of its FMAs on panel 1's 8 empty columns; here one vector holds 8 columns of both rows of a pair
/// (lanes 0-7 row 2q, lanes 8-15 row 2q + 1), so a pair's 48 outputs take three full vectors and three FMAs per
/// step, fed by one broadcast of row 2q's A value merged with one of row 2q + 1's into the upper lanes. The
/// weights are each 8-column half of a panel broadcast to both halves of a vector; the three accumulators are
/// shuffled back into the pair's 48 contiguous outputs. Each output is summed from its bias in k order with one
/// FMA per step, as in mf5_tile_rows: the same bits. C harness, 3136 x 144 -> 24 (the 56 x 56 projection):
/// 0.110 -> 0.086 ms (FMA peak 0.083); 3136 x 96 -> 24: 0.074 -> 0.057.
MQ2_INLINE MQ5_T void mf5_pairs24_tile(const float *a, size_t a_stride, int32_t k, const float *b, const float *bias,
                                      float *c, const mf_out *o, float lo, float hi, int32_t clamps, const int P) {
    const float *b2 = b + (size_t)k * 16;
    __m512 acc[24];
    const __m512 bias0 = _mm512_broadcast_f32x8(_mm256_loadu_ps(bias));
    const __m512 bias1 = _mm512_broadcast_f32x8(_mm256_loadu_ps(bias + 8));
    const __m512 bias2 = _mm512_broadcast_f32x8(_mm256_loadu_ps(bias + 16));
    for (int q = 0; q < P; q++) {
        acc[3 * q] = bias0;
        acc[3 * q + 1] = bias1;
        acc[3 * q + 2] = bias2;
    }
    for (int32_t i = 0; i < k; i++) {
        const __m512 w0 = _mm512_broadcast_f32x8(_mm256_loadu_ps(b + (size_t)i * 16));
        const __m512 w1 = _mm512_broadcast_f32x8(_mm256_loadu_ps(b + (size_t)i * 16 + 8));
        const __m512 w2 = _mm512_broadcast_f32x8(_mm256_loadu_ps(b2 + (size_t)i * 16));
        for (int q = 0; q < P; q++) {
            const float *r = a + (size_t)(2 * q) * a_stride + i;
            const __m512 x = _mm512_mask_broadcastss_ps(_mm512_set1_ps(r[0]), 0xFF00, _mm_load_ss(r + a_stride));
            acc[3 * q] = _mm512_fmadd_ps(x, w0, acc[3 * q]);
            acc[3 * q + 1] = _mm512_fmadd_ps(x, w1, acc[3 * q + 1]);
            acc[3 * q + 2] = _mm512_fmadd_ps(x, w2, acc[3 * q + 2]);
        }
    }
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
#pragma clang loop unroll(full)
    for (int q = 0; q < P; q++) {
        __m512 v0 = acc[3 * q], v1 = acc[3 * q + 1], v2 = acc[3 * q + 2];
        if (clamps) {
            v0 = mf5_clamp(v0, vlo, vhi);
            v1 = mf5_clamp(v1, vlo, vhi);
            v2 = mf5_clamp(v2, vlo, vhi);
        }
        // Row 2q's columns 0-15, its 16-23 with row 2q + 1's 0-7, then row 2q + 1's 8-23.
        __m512 o0 = _mm512_shuffle_f32x4(v0, v1, 0x44), o1 = _mm512_shuffle_f32x4(v2, v0, 0xE4);
        __m512 o2 = _mm512_shuffle_f32x4(v1, v2, 0xEE);
        float *dst = c + (size_t)(2 * q) * 24;
        if (o->adds) {
            const float *r = (const float *)((uintptr_t)dst + o->add_bytes);
            const __m512 alo = _mm512_set1_ps(o->add_lo), ahi = _mm512_set1_ps(o->add_hi);
            o0 = mf5_clamp(_mm512_add_ps(o0, _mm512_loadu_ps(r)), alo, ahi);
            o1 = mf5_clamp(_mm512_add_ps(o1, _mm512_loadu_ps(r + 16)), alo, ahi);
            o2 = mf5_clamp(_mm512_add_ps(o2, _mm512_loadu_ps(r + 32)), alo, ahi);
        }
        _mm512_storeu_ps(dst, o0);
        _mm512_storeu_ps(dst + 16, o1);
        _mm512_storeu_ps(dst + 32, o2);
    }
}

/// Whether mf5_gemm_pairs24 computes a GEMM: exactly 24 columns (both panels) into NHWC rows of 24, dense A.
MQ2_INLINE int mf5_pairs24_apply(int32_t n, int32_t p0, int32_t p1, const mf_out *o, const int32_t *ks) {
    return ks == NULL && n == 24 && p0 == 0 && p1 == 2 && o->half == 8 && o->row == 24;
}

/// Rows [0, rows) of A times a 24-column GEMM (mf5_pairs24_apply) through mf5_pairs24_tile: 8 pairs at a time,
/// then the remaining 1-7 pairs in one tile, then a last odd row through mf5_gemm_block.
static MQ5_T __attribute__((noinline)) void mf5_gemm_pairs24(int32_t k, const float *a, size_t a_stride,
                                                             int32_t rows, const float *packed, const float *bias,
                                                             float *c, const mf_out *o, float lo, float hi,
                                                             int32_t clamps) {
    const mf_out out = *o;
    int32_t r = 0;
    for (; r + 16 <= rows; r += 16)
        mf5_pairs24_tile(a + (size_t)r * a_stride, a_stride, k, packed, bias, c + (size_t)r * 24, &out, lo, hi,
                         clamps, 8);
    const float *ar = a + (size_t)r * a_stride;
    float *cr = c + (size_t)r * 24;
#define MF5_PAIRS(P) mf5_pairs24_tile(ar, a_stride, k, packed, bias, cr, &out, lo, hi, clamps, P)
    if (rows - r >= 2) MF_BY_COUNT7((rows - r) / 2, MF5_PAIRS)
#undef MF5_PAIRS
    r += (rows - r) / 2 * 2;
    if (r < rows)
        mf5_gemm_block(k, a + (size_t)r * a_stride, a_stride, 1, 1, packed, bias, c + (size_t)r * 24, &out, 24, 0, 2,
                       lo, hi, clamps);
}

/// Panels [p0, p1) of one row tile: with AVX-512, two panels per mf5_tile call (and one for an odd last panel);
/// else mf_tile per panel. `b` is panel p0's weights, `bias` its biases, `c` its output place.
MQ2_INLINE MQ2_T void mf_tile_panels(const mf_rows *a, int32_t rows, int32_t k, const float *packed,
                                     const float *bias, float *c, const mf_out *o, int32_t n, int32_t p0, int32_t p1,
                                     float lo, float hi, int32_t clamps, int avx512) {
    if (avx512) {
        for (int32_t p = p0; p < p1; p += 2) {
            const int32_t left = n - p * 16, width = p + 1 < p1 ? 32 : 16;
            mf5_tile(a, rows, packed + (size_t)p * k * 16, (size_t)k * 16, bias + (size_t)p * 16,
                     c + (size_t)p * o->panel, o, left < width ? left : width, lo, hi, clamps);
        }
        return;
    }
    for (int32_t p = p0; p < p1; p++)
        mf_tile(a, rows, packed + (size_t)p * k * 16, bias + (size_t)p * 16, c + (size_t)p * o->panel, *o,
                n - p * 16 < 16 ? n - p * 16 : 16, lo, hi, clamps);
}

/// A's rows [r, r + 6) (those below `rows`; a tile reads only its own rows) as one run of k each.
MQ2_INLINE MQ2_T mf_rows mf_gemm_rows(const float *a, int32_t a_stride, int32_t k, int32_t r, int32_t rows) {
    mf_rows t;
    t.segments = 1; t.run = k; t.stride = 0; t.ks = NULL; t.nk = 0;
    for (int i = 0; i < 6 && r + i < rows; i++) t.row[i] = a + (size_t)(r + i) * a_stride;
    return t;
}

/// How many leading row tiles of a `rows`-row block have 5 rows instead of 6, so that no tile is shorter: a tile of
/// 5 rows still keeps both FMA units busy (10 independent accumulators), a last tile of 1-4 rows does not. The 7x7
/// layers' 49 rows go as 5 x 5 + 4 x 6 instead of 8 x 6 + 1. Zero when `rows` is a multiple of 6 or too small.
MQ2_INLINE MQ2_T int32_t mf_five_row_tiles(int32_t rows) {
    const int32_t a = rows % 6 == 0 ? 0 : 6 - rows % 6;
    return rows >= 5 * a ? a : 0;
}

/// mf_gemm's lists of live steps for every row tile of `rows` (tile t's at ks + t * (k + 9), its length first), the
/// tiles as mf_gemm_to cuts them.
MQ2_INLINE MQ2_T void mf_live_lists(int32_t k, const float *a, int32_t a_stride, int32_t rows, int32_t *ks) {
    const int32_t fives = 5 * mf_five_row_tiles(rows);
    for (int32_t r = 0, t = 0; r < rows; t++) {
        const int32_t height = r < fives ? 5 : rows - r < 6 ? rows - r : 6;
        const mf_rows tile = mf_gemm_rows(a, a_stride, k, r, rows);
        int32_t *list = ks + (size_t)t * (k + 9);
        list[0] = mf_live_steps(&tile, height, k, list + 1);
        r += height;
    }
}

/// mf_gemm into any output layout.
static MQ2_T void mf_gemm_to(int32_t k, const float *a, int32_t a_stride, int32_t rows, const float *packed,
                             const float *bias, float *c, mf_out o, int32_t n, int32_t p0, int32_t p1,
                             int32_t panels_outer, float lo, float hi, int32_t clamps, int32_t *ks) {
    const int avx512 = mq5_cpu_supported();
    if (ks == NULL && !avx512 && p1 - p0 == 2 && n - (p1 - 1) * 16 <= 8) {
        // Two panels, the last of at most 8 columns: 24-column tiles.
        mf_gemm24(k, a, a_stride, rows, packed + (size_t)p0 * k * 16, bias + (size_t)p0 * 16, c + (size_t)p0 * o.panel,
                  &o, n - (p1 - 1) * 16, lo, hi, clamps);
        return;
    }
    if (avx512 && mf5_pairs24_apply(n, p0, p1, &o, ks)) {
        mf5_gemm_pairs24(k, a, (size_t)a_stride, rows, packed, bias, c, &o, lo, hi, clamps);
        return;
    }
    const int32_t fives = 5 * mf_five_row_tiles(rows);
    if (ks == NULL && avx512) {
        // Dense A: runs of equal tiles through mf5_gemm_block (the 5-row tiles, the 6-row ones, a last shorter one),
        // each run over the panels [p0, p1), or over one panel pair at a time when the panels are outer.
        const int32_t sixes = (rows - fives) / 6, last = rows - fives - 6 * sixes;
        // Panels outer: a pair at a time, the last three together where their count is odd (mf5_gemm_block_rows).
        for (int32_t p = p0, pe; p < p1; p = pe) {
            pe = !panels_outer || p1 - p == 3 || p + 2 > p1 ? p1 : p + 2;
            const float *ar = a;
            float *cr = c;
            if (fives > 0)
                mf5_gemm_block(k, ar, (size_t)a_stride, 5, fives / 5, packed, bias, cr, &o, n, p, pe, lo, hi, clamps);
            ar += (size_t)fives * a_stride;
            cr += (size_t)fives * o.row;
            if (sixes > 0)
                mf5_gemm_block(k, ar, (size_t)a_stride, 6, sixes, packed, bias, cr, &o, n, p, pe, lo, hi, clamps);
            ar += (size_t)sixes * 6 * a_stride;
            cr += (size_t)sixes * 6 * o.row;
            if (last > 0)
                mf5_gemm_block(k, ar, (size_t)a_stride, last, 1, packed, bias, cr, &o, n, p, pe, lo, hi, clamps);
        }
        return;
    }
    // Panel p of the row tile t starting at row r (5 rows below `fives`, else up to 6); with `ks`, the tile's list
    // of live steps is at ks + t * (k + 9), its length first.
#define MF_TILE_HEIGHT(r) ((r) < fives ? 5 : rows - (r) < 6 ? rows - (r) : 6)
#define MF_GEMM_TILE(t, r, pa, pb)                                                                                   \
    do {                                                                                                              \
        mf_rows tile = mf_gemm_rows(a, a_stride, k, r, rows);                                                        \
        if (ks != NULL) { tile.ks = ks + (size_t)(t) * (k + 9) + 1; tile.nk = tile.ks[-1]; }                       \
        mf_tile_panels(&tile, MF_TILE_HEIGHT(r), k, packed, bias, c + (size_t)(r) * o.row, &o, n, pa, pb, lo, hi,   \
                       clamps, avx512);                                                                               \
    } while (0)
    if (panels_outer) {
        // panels_outer 2: the lists are there already (mf_gemm_list_live_steps, once for all tasks).
        if (ks != NULL && panels_outer == 1) mf_live_lists(k, a, a_stride, rows, ks);
        for (int32_t p = p0; p < p1; p += avx512 ? 2 : 1) {
            const int32_t pe = avx512 && p + 2 <= p1 ? p + 2 : p + 1;
            for (int32_t r = 0, t = 0; r < rows; r += MF_TILE_HEIGHT(r), t++) MF_GEMM_TILE(t, r, p, pe);
        }
    } else {
        for (int32_t r = 0; r < rows; r += MF_TILE_HEIGHT(r)) {
            if (ks != NULL) {
                const mf_rows tile = mf_gemm_rows(a, a_stride, k, r, rows);
                ks[0] = mf_live_steps(&tile, MF_TILE_HEIGHT(r), k, ks + 1);
            }
            MF_GEMM_TILE(0, r, p0, p1);
        }
    }
#undef MF_TILE_HEIGHT
#undef MF_GEMM_TILE
}

MQ2_T void mf_gemm_list_live_steps(int32_t k, const float *a, int32_t a_stride, int32_t rows, int32_t *ks) {
    mf_live_lists(k, a, a_stride, rows, ks);
}

MQ2_T void mf_gemm(int32_t k, const float *a, int32_t a_stride, int32_t rows, const float *packed,
                   const float *bias, float *c, int32_t c_stride, int32_t n, int32_t p0, int32_t p1,
                   int32_t panels_outer, float lo, float hi, int32_t clamps, int32_t *ks, const float *add,
                   float add_lo, float add_hi) {
    mf_out o = mf_nhwc(c_stride);
    if (add != NULL) {
        o.adds = 1;
        o.add_bytes = (uintptr_t)add - (uintptr_t)c;
        o.add_lo = add_lo;
        o.add_hi = add_hi;
    }
    mf_gemm_to(k, a, a_stride, rows, packed, bias, c, o, n, p0, p1, panels_outer, lo, hi, clamps, ks);
}

/// mf_conv_rows into any output layout (pixel row0 at `out`), in tiles of 6 pixels.
static MQ2_T void mf_conv_tiles_to(const mf_conv *p, const float *in, float *out, mf_out o, int32_t row0,
                                   int32_t rows, int32_t p0, int32_t p1, float *scratch) {
    const int32_t c = p->c, k = p->kh * p->kw * c, run = p->kw * c;
    const int avx512 = mq5_cpu_supported();
    // The next output pixel (b, oy, ox), stepped from tile to tile, so that only this line divides (C harnesses,
    // MobileNetV2's first layer: three divisions per pixel 0.34 against 0.31 ms; three per tile 1-5% slower).
    int32_t nb = row0 / (p->ow * p->oh), noy = (row0 / p->ow) % p->oh, nox = row0 % p->ow;
    for (int32_t t = row0; t < row0 + rows; t += 6) {
        const int32_t count = row0 + rows - t < 6 ? row0 + rows - t : 6;
        mf_rows a;
        a.segments = p->kh; a.run = run; a.stride = (size_t)p->dh * p->iw * c; a.ks = NULL; a.nk = 0;
        int32_t pb[6], py[6], px[6];
        for (int32_t r = 0; r < count; r++) {
            pb[r] = nb; py[r] = noy; px[r] = nox;
            if (++nox == p->ow) { nox = 0; if (++noy == p->oh) { noy = 0; nb++; } }
        }
        int inside = p->dw == 1;
        for (int32_t r = 0; r < count && inside; r++) {
            const int32_t y0 = py[r] * p->sh - p->ph, x0 = px[r] * p->sw - p->pw;
            inside = x0 >= 0 && x0 + p->kw <= p->iw && y0 >= 0 && y0 + (p->kh - 1) * p->dh < p->ih;
            if (inside) a.row[r] = in + (((size_t)pb[r] * p->ih + y0) * p->iw + x0) * c;
        }
        if (!inside) {
            // A window crosses the padding (or the dilation is not 1 across): gather the tile's rows, zeros outside.
            for (int32_t r = 0; r < count; r++) {
                const int32_t ox = px[r], oy = py[r], b = pb[r], x0 = ox * p->sw - p->pw;
                float *dst = scratch + (size_t)r * k;
                for (int32_t fy = 0; fy < p->kh; fy++, dst += run) {
                    const int32_t y = oy * p->sh - p->ph + fy * p->dh;
                    if (y < 0 || y >= p->ih) {
                        memset(dst, 0, (size_t)run * 4);
                        continue;
                    }
                    const float *src = in + ((size_t)b * p->ih + y) * p->iw * c;
                    if (p->dw == 1) {
                        // The window row's taps inside the input are one run: [lo, hi) of kw.
                        const int32_t lo = x0 < 0 ? -x0 : 0, hi = p->iw - x0 < p->kw ? p->iw - x0 : p->kw;
                        if (hi <= lo) { memset(dst, 0, (size_t)run * 4); continue; }
                        memset(dst, 0, (size_t)lo * c * 4);
                        memcpy(dst + (size_t)lo * c, src + (size_t)(x0 + lo) * c, (size_t)(hi - lo) * c * 4);
                        memset(dst + (size_t)hi * c, 0, (size_t)(p->kw - hi) * c * 4);
                    } else {
                        for (int32_t fx = 0; fx < p->kw; fx++) {
                            const int32_t x = x0 + fx * p->dw;
                            if (x < 0 || x >= p->iw) memset(dst + (size_t)fx * c, 0, (size_t)c * 4);
                            else memcpy(dst + (size_t)fx * c, src + (size_t)x * c, (size_t)c * 4);
                        }
                    }
                }
                a.row[r] = scratch + (size_t)r * k;
            }
            a.segments = 1; a.run = k; a.stride = 0;
        }
        mf_tile_panels(&a, count, k, p->packed, p->bias, out + (size_t)(t - row0) * o.row, &o, p->n, p0, p1, p->lo,
                       p->hi, p->clamps, avx512);
    }
}

/// R pixels of one output row whose windows lie inside the input (pixel r's window rows at a + r * ps + s * ss,
/// s < segments, each a run of `run` floats) times P weight panels (1 or 2, `b_next` floats apart): R x P
/// accumulators (R <= 6: at most 12), each output summed from its bias in k order with one FMA per step, as
/// mf_conv_tiles_to sums it: the same bits.
MQ2_INLINE MQ5_T void mf5_conv_tile(const float *a, size_t ps, size_t ss, int32_t segments, int32_t run,
                                    const float *b, size_t b_next, const float *bias, float *c, const mf_out *o,
                                    int32_t columns, float lo, float hi, int32_t clamps, const int R, const int P) {
    __m512 acc[12];
    const __m512 bias0 = _mm512_loadu_ps(bias), bias1 = P == 2 ? _mm512_loadu_ps(bias + 16) : bias0;
    for (int r = 0; r < R; r++) {
        acc[P * r] = bias0;
        if (P == 2) acc[P * r + 1] = bias1;
    }
    for (int32_t s = 0; s < segments; s++, a += ss, b += (size_t)run * 16) {
        const float *b1 = b + b_next;
        for (int32_t i = 0; i < run; i++) {
            const __m512 w0 = _mm512_loadu_ps(b + (size_t)i * 16);
            const __m512 w1 = P == 2 ? _mm512_loadu_ps(b1 + (size_t)i * 16) : w0;
            for (int r = 0; r < R; r++) {
                const __m512 x = _mm512_set1_ps(a[(size_t)r * ps + (size_t)i]);
                acc[P * r] = _mm512_fmadd_ps(x, w0, acc[P * r]);
                if (P == 2) acc[P * r + 1] = _mm512_fmadd_ps(x, w1, acc[P * r + 1]);
            }
        }
    }
    mf5_store_block(acc, c, o, columns, lo, hi, clamps, R, P);
}

/// `count` pixels of one output row, every window inside the input, the first at `a` (its window's first element),
/// the next sw * c floats on, in tiles of R pixels.
MQ2_INLINE MQ5_T void mf5_conv_run_rows(const mf_conv *p, const float *a, float *out, const mf_out *o, int32_t count,
                                        int32_t p0, int32_t p1, const int R) {
    const int32_t c = p->c, run = p->kw * c, k = p->kh * run;
    const size_t ps = (size_t)p->sw * c, ss = (size_t)p->dh * p->iw * c, b_next = (size_t)k * 16;
    for (int32_t t = 0; t + R <= count; t += R, a += R * ps, out += (size_t)R * o->row) {
        int32_t q = p0;
        for (; q + 2 <= p1; q += 2) {
            const int32_t left = p->n - q * 16;
            mf5_conv_tile(a, ps, ss, p->kh, run, p->packed + (size_t)q * b_next, b_next, p->bias + (size_t)q * 16,
                          out + (size_t)q * o->panel, o, left < 32 ? left : 32, p->lo, p->hi, p->clamps, R, 2);
        }
        if (q < p1) {
            const int32_t left = p->n - q * 16;
            mf5_conv_tile(a, ps, ss, p->kh, run, p->packed + (size_t)q * b_next, b_next, p->bias + (size_t)q * 16,
                          out + (size_t)q * o->panel, o, left < 16 ? left : 16, p->lo, p->hi, p->clamps, R, 1);
        }
    }
}

/// mf5_conv_run_rows for any count: whole 6-pixel tiles (12 accumulators for a pair of panels), then one tile of the
/// 1-5 left. (12-pixel tiles, 24 accumulators, spilled: C harness, the first layer 2x slower; 8 pixels 2% slower.)
static MQ5_T __attribute__((noinline)) void mf5_conv_run(const mf_conv *p, const float *a, float *out,
                                                         const mf_out *o, int32_t count, int32_t p0, int32_t p1) {
    const mf_out oc = *o;
    const int32_t whole = count / 6 * 6, rest = count - whole;
    const size_t ps = (size_t)p->sw * p->c;
    mf5_conv_run_rows(p, a, out, &oc, whole, p0, p1, 6);
    a += whole * ps;
    out += (size_t)whole * oc.row;
#define MF5_RUN(R) mf5_conv_run_rows(p, a, out, &oc, R, p0, p1, R); break;
    switch (rest) {
    case 0: break;
    case 1: MF5_RUN(1) case 2: MF5_RUN(2) case 3: MF5_RUN(3) case 4: MF5_RUN(4) default: MF5_RUN(5)
    }
#undef MF5_RUN
}

/// mf_conv_rows into any output layout (pixel row0 at `out`). With AVX-512 and dilation 1 across, each output row's
/// pixels whose windows lie inside the input go through mf5_conv_run (their A rows a constant stride apart), the
/// rest through mf_conv_tiles_to. C harness, MobileNetV2's first layer (224 x 224 x 3 -> 112 x 112 x 32, 3 x 3
/// stride 2), same bits: 0.130 -> 0.097 ms (FMA peak 0.083): the 6-pixel tiles' set-up (coordinates, row pointers,
/// a call) was a third of their time at k = 27.
static MQ2_T void mf_conv_rows_to(const mf_conv *p, const float *in, float *out, mf_out o, int32_t row0,
                                  int32_t rows, int32_t p0, int32_t p1, float *scratch) {
    int32_t ox_lo, ox_hi;
    mq2_interior_columns(p->iw, p->ow, p->kw, p->sw, p->dw, p->pw, &ox_lo, &ox_hi);
    if (!mq5_cpu_supported() || p->dw != 1 || ox_hi - ox_lo < 12) {
        mf_conv_tiles_to(p, in, out, o, row0, rows, p0, p1, scratch);
        return;
    }
    const int32_t end = row0 + rows, c = p->c;
    for (int32_t t = row0; t < end;) {
        const int32_t b = t / (p->ow * p->oh), oy = (t / p->ow) % p->oh, ox = t % p->ow;
        const int32_t row_end = end - t < p->ow - ox ? end : t + (p->ow - ox);
        const int32_t y0 = oy * p->sh - p->ph;
        // This row's pixels [lo, hi) have their windows inside the input.
        int32_t lo = row_end, hi = row_end;
        if (y0 >= 0 && y0 + (p->kh - 1) * p->dh < p->ih) {
            lo = t - ox + ox_lo > t ? t - ox + ox_lo : t;
            hi = t - ox + ox_hi < row_end ? t - ox + ox_hi : row_end;
            if (hi <= lo) lo = hi = row_end;
        }
        if (lo > t) mf_conv_tiles_to(p, in, out + (size_t)(t - row0) * o.row, o, t, lo - t, p0, p1, scratch);
        if (hi > lo) {
            const int32_t x0 = (lo - (t - ox)) * p->sw - p->pw;
            mf5_conv_run(p, in + (((size_t)b * p->ih + y0) * p->iw + x0) * c, out + (size_t)(lo - row0) * o.row, &o,
                         hi - lo, p0, p1);
        }
        if (row_end > hi)
            mf_conv_tiles_to(p, in, out + (size_t)(hi - row0) * o.row, o, hi, row_end - hi, p0, p1, scratch);
        t = row_end;
    }
}

MQ2_T void mf_conv_rows(const mf_conv *p, const float *in, float *out, int32_t row0, int32_t rows, int32_t p0,
                        int32_t p1, float *scratch) {
    mf_conv_rows_to(p, in, out, mf_nhwc(p->n), row0, rows, p0, p1, scratch);
}

/// One output row of a 3x3, dilation-1 depthwise convolution from its three input rows `rows` (the zero row for
/// rows outside the input), channel blocks [c0, c1) through mf_dw_run3 (interior columns [ox_lo, ox_hi)). NHWC rows
/// when `planar` is 0. Else planar rows (the fused kernel's ring): channel block cb / 8 of column x at
/// row + cb * planar + x * 8, except the zero row, read at x * 8 for every block (so it must hold iw * c rounded up
/// to 8 zeros). The two layouts are separate loops so that the planar walk's column step is the constant 8 and its
/// nine loads take immediate offsets (C harness: the fused 28x28 and 56x56 pairs 9% faster than with the step in a
/// register; in the model within noise).
MQ2_INLINE MQ2_T void mf_dw_row3(const mf_dw *p, const float *const *rows, int32_t c0, int32_t c1, int32_t ox_lo,
                                 int32_t ox_hi, __m256i tail, float *out_row, const size_t planar) {
    const int32_t c = p->c;
    if (planar == 0) {
        for (int32_t cb = c0; cb < c1; cb += 8) {
            const float *r0 = rows[0] + cb, *r1 = rows[1] + cb, *r2 = rows[2] + cb;
            if (c - cb >= 8) mf_dw_run3(p, r0, r1, r2, ox_lo, ox_hi, cb, 1, tail, out_row, c);
            else mf_dw_run3(p, r0, r1, r2, ox_lo, ox_hi, cb, 0, tail, out_row, c);
        }
        return;
    }
    // Channel block cb of row fy starts at rows[fy] + cb * step[fy]: cb * planar, or the zero row's start.
    size_t step[3];
    for (int fy = 0; fy < 3; fy++) step[fy] = rows[fy] == p->zero_row ? 0 : planar;
    for (int32_t cb = c0; cb < c1; cb += 8) {
        const float *r0 = rows[0] + cb * step[0], *r1 = rows[1] + cb * step[1], *r2 = rows[2] + cb * step[2];
        if (c - cb >= 8) mf_dw_run3(p, r0, r1, r2, ox_lo, ox_hi, cb, 1, tail, out_row, 8);
        else mf_dw_run3(p, r0, r1, r2, ox_lo, ox_hi, cb, 0, tail, out_row, 8);
    }
}

/// mf_dw_run3 with 16 channels per 512-bit vector (the first channels of `m` where `full` is 0): the same taps in
/// the same order, so the same bits.
MQ2_INLINE MQ5_T void mf5_dw_run3(const mf_dw *p, const float *r0, const float *r1, const float *r2, int32_t ox_lo,
                                  int32_t ox_hi, int32_t cb, const int full, __mmask16 m, float *out_row,
                                  const int32_t xs) {
    const int32_t c = p->c;
    const float *w = p->w + cb;
#define MF5_LD(q) (full ? _mm512_loadu_ps(q) : _mm512_maskz_loadu_ps(m, q))
    const __m512 w0 = MF5_LD(w), w1 = MF5_LD(w + c), w2 = MF5_LD(w + 2 * c);
    const __m512 w3 = MF5_LD(w + 3 * c), w4 = MF5_LD(w + 4 * c), w5 = MF5_LD(w + 5 * c);
    const __m512 w6 = MF5_LD(w + 6 * c), w7 = MF5_LD(w + 7 * c), w8 = MF5_LD(w + 8 * c);
    const __m512 bias = MF5_LD(p->bias + cb);
    const __m512 lo = _mm512_set1_ps(p->lo), hi = _mm512_set1_ps(p->hi);
#define MF5_ST(q, v) do { if (full) _mm512_storeu_ps(q, v); else _mm512_mask_storeu_ps(q, m, v); } while (0)
#define MF5_DW_TAP(r, fx, wv)                                                                                         \
    if (x0 + (fx) >= 0 && x0 + (fx) < p->iw) e = _mm512_fmadd_ps(MF5_LD((r) + (size_t)(x0 + (fx)) * xs), wv, e)
#define MF5_DW_EDGE(ox)                                                                                               \
    do {                                                                                                              \
        const int32_t x0 = (ox) * p->sw - p->pw;                                                                      \
        __m512 e = bias;                                                                                              \
        MF5_DW_TAP(r0, 0, w0); MF5_DW_TAP(r0, 1, w1); MF5_DW_TAP(r0, 2, w2);                                          \
        MF5_DW_TAP(r1, 0, w3); MF5_DW_TAP(r1, 1, w4); MF5_DW_TAP(r1, 2, w5);                                          \
        MF5_DW_TAP(r2, 0, w6); MF5_DW_TAP(r2, 1, w7); MF5_DW_TAP(r2, 2, w8);                                          \
        MF5_ST(out_row + (size_t)(ox) * c + cb, mf5_clamp(e, lo, hi));                                                \
    } while (0)
    if (ox_lo >= ox_hi) ox_lo = ox_hi = p->ow;
    for (int32_t ox = 0; ox < ox_lo; ox++) MF5_DW_EDGE(ox);
    const size_t step = (size_t)p->sw * xs;
    size_t x = ((size_t)ox_lo * p->sw - p->pw) * xs;
#define MF5_DW_TAPS(a, x)                                                                                             \
    do {                                                                                                              \
        a = _mm512_fmadd_ps(MF5_LD(r0 + (x)), w0, bias);                                                              \
        a = _mm512_fmadd_ps(MF5_LD(r0 + (x) + xs), w1, a);                                                            \
        a = _mm512_fmadd_ps(MF5_LD(r0 + (x) + 2 * xs), w2, a);                                                        \
        a = _mm512_fmadd_ps(MF5_LD(r1 + (x)), w3, a);                                                                 \
        a = _mm512_fmadd_ps(MF5_LD(r1 + (x) + xs), w4, a);                                                            \
        a = _mm512_fmadd_ps(MF5_LD(r1 + (x) + 2 * xs), w5, a);                                                        \
        a = _mm512_fmadd_ps(MF5_LD(r2 + (x)), w6, a);                                                                 \
        a = _mm512_fmadd_ps(MF5_LD(r2 + (x) + xs), w7, a);                                                            \
        a = _mm512_fmadd_ps(MF5_LD(r2 + (x) + 2 * xs), w8, a);                                                        \
    } while (0)
    // The interior pixels go eight at a time, then the 1-7 left as one group: each pixel is its own chain of nine
    // dependent FMAs (36 cycles of latency on Zen 5), so a step needs eight chains to keep both FMA pipes busy.
    // History: one pixel a step left the core waiting on the latency (session 16, four a step on rows of 8+
    // interior pixels, NHWC, same bits: 56 x 56 x 144 1.66-2.15x, 28 x 28 x 192 1.49-1.62x); on the Xeon the 7 x 7
    // layers (five interior pixels) were slower with four (0.024-0.036 -> 0.043-0.047 ms) and stayed one at a time.
    // Session 20 (Zen 5), C harness, same bits: eight a step, the fused pairs' depthwise part (planar rows) 2.25-2.68
    // -> 2.02-2.57 ns per output vector (the 28 x 28 pair 59.6 -> 56.1 us, the 112 x 112 stride-2 one 218.5 ->
    // 206.6 us); the rest as one group instead of fours and singles, the standalone 7 x 7 x 960 layer 13.6-13.9 ->
    // 8.1-8.3 us and 14 x 14 x 576 stride 2 8.6-8.8 -> 4.9-5.5 us (the model, one thread: 1.004-1.005x).
    int32_t ox = ox_lo;
    // W pixels as W chains side by side, their stores after.
#define MF5_DW_GROUP(W)                                                                                               \
    do {                                                                                                              \
        __m512 g[W];                                                                                                  \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < (W); j++) MF5_DW_TAPS(g[j], x + (size_t)j * step);     \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < (W); j++)                                              \
            MF5_ST(out_row + (size_t)(ox + j) * c + cb, mf5_clamp(g[j], lo, hi));                                     \
        ox += (W);                                                                                                    \
        x += (size_t)(W) * step;                                                                                      \
    } while (0)
    while (ox + 8 <= ox_hi) MF5_DW_GROUP(8);
    if (ox < ox_hi) MF_BY_COUNT7(ox_hi - ox, MF5_DW_GROUP)
#undef MF5_DW_GROUP
#undef MF5_DW_TAPS
    for (int32_t ox = ox_hi; ox < p->ow; ox++) MF5_DW_EDGE(ox);
#undef MF5_DW_EDGE
#undef MF5_DW_TAP
#undef MF5_ST
#undef MF5_LD
}

/// mf_dw_row3 with 16 channels per vector: NHWC rows when `planar` is 0, else the fused kernel's planar rows in
/// blocks of 16 channels (block cb / 16 of column x at row + cb * planar + x * 16; the zero row at x * 16 for
/// every block, so it must hold iw * c rounded up to 16 zeros).
static MQ5_T __attribute__((noinline)) void mf5_dw_row3(const mf_dw *p, const float *const *rows, int32_t c0,
                                                        int32_t c1, int32_t ox_lo, int32_t ox_hi, float *out_row,
                                                        const size_t planar) {
    const int32_t c = p->c;
    const __mmask16 m = (__mmask16)((1u << (c % 16 == 0 ? 16 : c % 16)) - 1u);
    if (planar == 0) {
        for (int32_t cb = c0; cb < c1; cb += 16) {
            const float *r0 = rows[0] + cb, *r1 = rows[1] + cb, *r2 = rows[2] + cb;
            if (c - cb >= 16) mf5_dw_run3(p, r0, r1, r2, ox_lo, ox_hi, cb, 1, m, out_row, c);
            else mf5_dw_run3(p, r0, r1, r2, ox_lo, ox_hi, cb, 0, m, out_row, c);
        }
        return;
    }
    size_t step[3];
    for (int fy = 0; fy < 3; fy++) step[fy] = rows[fy] == p->zero_row ? 0 : planar;
    for (int32_t cb = c0; cb < c1; cb += 16) {
        const float *r0 = rows[0] + cb * step[0], *r1 = rows[1] + cb * step[1], *r2 = rows[2] + cb * step[2];
        if (c - cb >= 16) mf5_dw_run3(p, r0, r1, r2, ox_lo, ox_hi, cb, 1, m, out_row, 16);
        else mf5_dw_run3(p, r0, r1, r2, ox_lo, ox_hi, cb, 0, m, out_row, 16);
    }
}

/// Whether mf_dw_row3 applies: a 3x3 window with dilation 1 and a zero row.
MQ2_INLINE MQ2_T int mf_dw_is3x3(const mf_dw *p) {
    return p->kh == 3 && p->kw == 3 && p->dh == 1 && p->dw == 1 && p->zero_row != NULL;
}

MQ2_T void mf_dw_rows(const mf_dw *p, int32_t row_begin, int32_t row_end) {
    mf_dw_rows_channels(p, row_begin, row_end, 0, p->c);
}

MQ2_T void mf_dw_rows_channels(const mf_dw *p, int32_t row_begin, int32_t row_end, int32_t c0, int32_t c1) {
    const int32_t c = p->c;
    const int fast = mf_dw_is3x3(p), avx512 = mq5_cpu_supported();
    int32_t ox_lo, ox_hi;
    mq2_interior_columns(p->iw, p->ow, p->kw, p->sw, p->dw, p->pw, &ox_lo, &ox_hi);
    const __m256i tail = mf_mask(c % 8 == 0 ? 8 : c % 8);
    for (int32_t row = row_begin; row < row_end; row++) {
        const int32_t b = row / p->oh, oy = row % p->oh;
        float *out_row = p->out + ((size_t)b * p->oh + oy) * p->ow * c;
        if (fast) {
            const float *rows[3] = {p->zero_row, p->zero_row, p->zero_row};
            for (int fy = 0; fy < 3; fy++) {
                const int32_t y = oy * p->sh - p->ph + fy;
                if (y >= 0 && y < p->ih) rows[fy] = p->in + ((size_t)b * p->ih + y) * p->iw * c;
            }
            if (avx512) mf5_dw_row3(p, rows, c0, c1, ox_lo, ox_hi, out_row, 0);
            else mf_dw_row3(p, rows, c0, c1, ox_lo, ox_hi, tail, out_row, 0);
            continue;
        }
        for (int32_t ox = 0; ox < p->ow; ox++) {
            float *out = out_row + (size_t)ox * c;
            for (int32_t cb = c0; cb < c1; cb += 8) {
                if (c - cb >= 8) mf_dw_pixel(p, b, oy, ox, cb, 1, tail, out);
                else mf_dw_pixel(p, b, oy, ox, cb, 0, tail, out);
            }
        }
    }
}

/// mf_expand_dw_rows, and with `proj` the projection (mf_expand_dw_project_rows): `out` is then the row buffer.
MQ2_INLINE MQ2_T void mf_expand_dw_rows_to(const mf_expand_dw *f, const float *in, float *out, int32_t row_begin,
                                           int32_t row_end, int32_t p0, int32_t p1, float *ring, float *scratch,
                                           const mf_project *proj, int32_t *ks, mf_ring_state *state,
                                           int32_t invocation) {
    const mf_dw *p = &f->dw;
    const int32_t c = p->c, iw = p->iw, cin = f->cin, band = f->band;
    const int32_t c1 = 16 * p1 < c ? 16 * p1 : c;
    int32_t ox_lo, ox_hi;
    mq2_interior_columns(p->iw, p->ow, p->kw, p->sw, p->dw, p->pw, &ox_lo, &ox_hi);
    const __m256i tail = mf_mask(c % 8 == 0 ? 8 : c % 8);
    // Two slots of `band` expanded rows each, planar over the band (channel block j / 8 of the band's pixel r at
    // j * band * iw + r * 8), so that a 3x3 window's rows, in one slot or two, are all `band * iw * 8` floats
    // apart from one block to the next. Slot s holds rows [first[s], first[s] + count[s]) of the current image. A
    // missing row y starts a band [y, y + band) in the slot that ends first: the rows a window needs are in at
    // most two bands (band >= 2, bands never overlap), and that slot holds none of them.
    const size_t slot_floats = (size_t)band * mf_expand_dw_row_floats(iw, c);
    // With AVX-512 the planar blocks are 16 channels wide (pixel r's block j / 16 at j * band * iw + r * 16), so
    // that both the GEMM's stores and the depthwise loads take whole 512-bit vectors.
    const int avx512 = mq5_cpu_supported();
    const int32_t block = avx512 ? 16 : 8;
    const mf_out ring_out = avx512 ? mf_planar16(band * iw) : mf_planar(band * iw);
    // A band stops at `y_end`, after the last row this call's windows in image `b_end` need; with `state`, only at
    // the image's last row, so that the ring is what one call over both ranges would leave at this call's first
    // row. The ring holds rows of image `b_ring`: where this call continues the previous one on this ring (its
    // rows start where that call's ended), that call's rows, and the two calls compute what one call would.
    int32_t first[2] = {0, 0}, count[2] = {0, 0}, b_ring = -1, y_end = 0, b_end = -1;
    if (state != NULL && state->invocation == invocation && state->next_row == row_begin && state->p0 == p0
        && state->p1 == p1) {
        b_ring = state->b;
        for (int s = 0; s < 2; s++) { first[s] = state->first[s]; count[s] = state->count[s]; }
    }
    // With the projection: depthwise pixels in the row buffer not yet projected, and the first one's index.
    int32_t pending = 0, done = row_begin * p->ow;
    for (int32_t row = row_begin; row < row_end; row++) {
        const int32_t b = row / p->oh, oy = row % p->oh;
        const int32_t y0 = oy * p->sh - p->ph;
        if (b != b_ring) { b_ring = b; first[0] = first[1] = count[0] = count[1] = 0; }
        if (b != b_end) {
            b_end = b;
            const int32_t oy_last = (row_end - 1) / p->oh == b ? (row_end - 1) % p->oh : p->oh - 1;
            y_end = state == NULL && oy_last * p->sh - p->ph + 3 < p->ih ? oy_last * p->sh - p->ph + 3 : p->ih;
        }
        const float *rows[3] = {p->zero_row, p->zero_row, p->zero_row};
        for (int fy = 0; fy < 3; fy++) {
            const int32_t y = y0 + fy;
            if (y < 0 || y >= p->ih) continue;
            int s = y >= first[0] && y < first[0] + count[0] ? 0 : y >= first[1] && y < first[1] + count[1] ? 1 : -1;
            if (s < 0) {
                s = first[0] + count[0] <= first[1] + count[1] ? 0 : 1;
                const int32_t n = y_end - y < band ? y_end - y : band;
                float *slot = ring + s * slot_floats;
                if (f->conv != NULL)
                    mf_conv_rows_to(f->conv, in, slot, ring_out, (b * p->ih + y) * iw, n * iw, p0, p1, scratch);
                else if (f->amx != NULL)  // (only set where mfa_bf16_supported, which implies avx512)
                    mfa_gemm_planar(f->amx, in + ((size_t)b * p->ih + y) * iw * cin, cin, n * iw, slot,
                                    (size_t)16 * band * iw, p0, p1, (uint16_t *)scratch);
                else
                    mf_gemm_to(cin, in + ((size_t)b * p->ih + y) * iw * cin, cin, n * iw, f->packed, f->bias, slot,
                               ring_out, c, p0, p1, 1, f->lo, f->hi, f->clamps, NULL);
                first[s] = y; count[s] = n;
            }
            rows[fy] = ring + s * slot_floats + (size_t)(y - first[s]) * iw * block;
        }
        float *out_row = proj != NULL ? out + (size_t)pending * c : out + ((size_t)b * p->oh + oy) * p->ow * c;
        if (avx512) mf5_dw_row3(p, rows, 16 * p0, c1, ox_lo, ox_hi, out_row, (size_t)band * iw);
        else mf_dw_row3(p, rows, 16 * p0, c1, ox_lo, ox_hi, tail, out_row, (size_t)band * iw);
        if (proj == NULL) continue;
        // The projection on the buffer's whole tiles (all of it after the range's last row), from pixel `done`.
        pending += p->ow;
        const int32_t ready = row + 1 == row_end ? pending : pending - pending % 6;
        if (ready == 0) continue;
        mf_out o = mf_nhwc(proj->n);
        float *dst = proj->out + (size_t)done * proj->n;
        if (proj->add != NULL) {
            o.adds = 1;
            o.add_bytes = (uintptr_t)(proj->add + (size_t)done * proj->n) - (uintptr_t)dst;
            o.add_lo = proj->add_lo;
            o.add_hi = proj->add_hi;
        }
        mf_gemm_to(c, out, c, ready, proj->packed, proj->bias, dst, o, proj->n, 0, proj->panels, 0, proj->lo,
                   proj->hi, proj->clamps, proj->skips ? ks : NULL);
        memmove(out, out + (size_t)ready * c, (size_t)(pending - ready) * c * 4);
        pending -= ready;
        done += ready;
    }
    if (state != NULL) {
        state->invocation = invocation; state->next_row = row_end; state->b = b_ring; state->p0 = p0; state->p1 = p1;
        for (int s = 0; s < 2; s++) { state->first[s] = first[s]; state->count[s] = count[s]; }
    }
}

MQ2_T void mf_expand_dw_rows(const mf_expand_dw *f, const float *in, float *out, int32_t row_begin,
                             int32_t row_end, int32_t p0, int32_t p1, float *ring, float *scratch,
                             mf_ring_state *state, int32_t invocation) {
    mf_expand_dw_rows_to(f, in, out, row_begin, row_end, p0, p1, ring, scratch, NULL, NULL, state, invocation);
}

MQ2_T void mf_expand_dw_project_rows(const mf_expand_dw *f, const float *in, int32_t row_begin, int32_t row_end,
                                     float *ring, float *scratch, float *rows_buffer, int32_t *ks,
                                     mf_ring_state *state, int32_t invocation) {
    mf_expand_dw_rows_to(f, in, rows_buffer, row_begin, row_end, 0, (f->dw.c + 15) / 16, ring, scratch, f->proj,
                         ks, state, invocation);
}

/// exp(x) for 16 lanes: x clamped to [-104, 89] (NaN kept: the bound is the first operand), x = k ln 2 + r with
/// |r| <= ln 2 / 2 (ln 2 in two parts), e^r by its Taylor polynomial to degree 6 (Horner), times 2^k (VSCALEFPS).
MQ2_INLINE MQ5_T __m512 mf5_exp(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

MQ5_T void mf_softmax_rows(const float *x, float *y, int32_t rows, int32_t depth, float beta) {
    const __mmask16 tail = (__mmask16)((1u << (depth % 16)) - 1u);
    const int32_t whole = depth / 16 * 16;
    const __m512 vbeta = _mm512_set1_ps(beta), lowest = _mm512_set1_ps(-3.40282347e38f);
    for (int32_t row = 0; row < rows; row++, x += depth, y += depth) {
        // The largest value; a NaN lane (first operand of VMAXPS) is passed over.
        __m512 m = lowest;
        for (int32_t i = 0; i < whole; i += 16) m = _mm512_max_ps(_mm512_loadu_ps(x + i), m);
        if (tail) m = _mm512_max_ps(_mm512_mask_loadu_ps(lowest, tail, x + whole), m);
        const __m512 largest = _mm512_set1_ps(_mm512_reduce_max_ps(m));
        __m512 sum = _mm512_setzero_ps();
        for (int32_t i = 0; i < whole; i += 16) {
            const __m512 e = mf5_exp(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), largest), vbeta));
            _mm512_storeu_ps(y + i, e);
            sum = _mm512_add_ps(sum, e);
        }
        if (tail) {
            const __m512 v = _mm512_maskz_loadu_ps(tail, x + whole);
            const __m512 e = mf5_exp(_mm512_mul_ps(_mm512_sub_ps(v, largest), vbeta));
            _mm512_mask_storeu_ps(y + whole, tail, e);
            sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(tail, e));
        }
        const __m512 total = _mm512_set1_ps(_mm512_reduce_add_ps(sum));
        for (int32_t i = 0; i < whole; i += 16) _mm512_storeu_ps(y + i, _mm512_div_ps(_mm512_loadu_ps(y + i), total));
        if (tail) _mm512_mask_storeu_ps(y + whole, tail, _mm512_div_ps(_mm512_maskz_loadu_ps(tail, y + whole), total));
    }
}

MQ2_T void mf_gemv_kmajor(int32_t k, const float *x, const float *w, int32_t ld, const float *bias, float *y,
                          int32_t j0, int32_t j1, float lo, float hi, int32_t clamps, int32_t *ks) {
    if (j0 >= j1) return;
    // The rows to add, ascending: all of them, or with `ks` those whose x is not zero (x as a one-row tile).
    int32_t nk = k;
    if (ks != NULL) {
        const mf_rows one = mf_gemm_rows(x, k, k, 0, 1);
        nk = mf_live_steps(&one, 1, k, ks);
    }
#define MF_ROW(t) (ks != NULL ? ks[t] : (t))
    const int32_t full_end = j0 + (j1 - j0) / 8 * 8;
    const __m256i tail = mf_mask((j1 - j0) % 8 == 0 ? 8 : (j1 - j0) % 8);
    // The partial sums live in y: the bias, then four rows per pass (one load and store of y per four FMAs).
    memcpy(y + j0, bias + j0, (size_t)(j1 - j0) * 4);
    int32_t t = 0;
    for (; t + 4 <= nk; t += 4) {
        const int32_t i0 = MF_ROW(t), i1 = MF_ROW(t + 1), i2 = MF_ROW(t + 2), i3 = MF_ROW(t + 3);
        const float *w0 = w + (size_t)i0 * ld, *w1 = w + (size_t)i1 * ld, *w2 = w + (size_t)i2 * ld;
        const float *w3 = w + (size_t)i3 * ld;
        const __m256 x0 = _mm256_set1_ps(x[i0]), x1 = _mm256_set1_ps(x[i1]), x2 = _mm256_set1_ps(x[i2]);
        const __m256 x3 = _mm256_set1_ps(x[i3]);
        for (int32_t j = j0; j < j1; j += 8) {
            const int full = j < full_end;
            __m256 a = mf_load(y + j, full, tail);
            a = _mm256_fmadd_ps(x0, _mm256_loadu_ps(w0 + j), a);
            a = _mm256_fmadd_ps(x1, _mm256_loadu_ps(w1 + j), a);
            a = _mm256_fmadd_ps(x2, _mm256_loadu_ps(w2 + j), a);
            a = _mm256_fmadd_ps(x3, _mm256_loadu_ps(w3 + j), a);
            mf_store(y + j, a, full, tail);
        }
    }
    for (; t < nk; t++) {
        const int32_t i0 = MF_ROW(t);
        const float *w0 = w + (size_t)i0 * ld;
        const __m256 x0 = _mm256_set1_ps(x[i0]);
        for (int32_t j = j0; j < j1; j += 8) {
            const int full = j < full_end;
            mf_store(y + j, _mm256_fmadd_ps(x0, _mm256_loadu_ps(w0 + j), mf_load(y + j, full, tail)), full, tail);
        }
    }
#undef MF_ROW
    if (clamps) {
        const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
        for (int32_t j = j0; j < j1; j += 8) {
            const int full = j < full_end;
            mf_store(y + j, mf_clamp(mf_load(y + j, full, tail), vlo, vhi), full, tail);
        }
    }
}

#else

int mf_cpu_supported(void) { return 0; }
void mf_dw_rows(const mf_dw *p, int32_t row_begin, int32_t row_end) { (void)p; (void)row_begin; (void)row_end; }
void mf_dw_rows_channels(const mf_dw *p, int32_t row_begin, int32_t row_end, int32_t c0, int32_t c1) {
    (void)p; (void)row_begin; (void)row_end; (void)c0; (void)c1;
}
void mf_expand_dw_rows(const mf_expand_dw *f, const float *in, float *out, int32_t row_begin, int32_t row_end,
                       int32_t p0, int32_t p1, float *ring, float *scratch, mf_ring_state *state,
                       int32_t invocation) {
    (void)f; (void)in; (void)out; (void)row_begin; (void)row_end; (void)p0; (void)p1; (void)ring; (void)scratch;
    (void)state; (void)invocation;
}
void mf_expand_dw_project_rows(const mf_expand_dw *f, const float *in, int32_t row_begin, int32_t row_end,
                               float *ring, float *scratch, float *rows_buffer, int32_t *ks, mf_ring_state *state,
                               int32_t invocation) {
    (void)f; (void)in; (void)row_begin; (void)row_end; (void)ring; (void)scratch; (void)rows_buffer; (void)ks;
    (void)state; (void)invocation;
}
void mf_conv_rows(const mf_conv *p, const float *in, float *out, int32_t row0, int32_t rows, int32_t p0,
                  int32_t p1, float *scratch) {
    (void)p; (void)in; (void)out; (void)row0; (void)rows; (void)p0; (void)p1; (void)scratch;
}
void mf_softmax_rows(const float *x, float *y, int32_t rows, int32_t depth, float beta) {
    (void)x; (void)y; (void)rows; (void)depth; (void)beta;
}
void mf_gemv_kmajor(int32_t k, const float *x, const float *w, int32_t ld, const float *bias, float *y,
                    int32_t j0, int32_t j1, float lo, float hi, int32_t clamps, int32_t *ks) {
    (void)k; (void)x; (void)w; (void)ld; (void)bias; (void)y; (void)j0; (void)j1; (void)lo; (void)hi; (void)clamps;
    (void)ks;
}
void mf_gemm_list_live_steps(int32_t k, const float *a, int32_t a_stride, int32_t rows, int32_t *ks) {
    (void)k; (void)a; (void)a_stride; (void)rows; (void)ks;
}
void mf_gemm(int32_t k, const float *a, int32_t a_stride, int32_t rows, const float *packed, const float *bias,
             float *c, int32_t c_stride, int32_t n, int32_t p0, int32_t p1, int32_t panels_outer, float lo, float hi,
             int32_t clamps, int32_t *ks, const float *add, float add_lo, float add_hi) {
    (void)k; (void)a; (void)a_stride; (void)rows; (void)packed; (void)bias; (void)c; (void)c_stride; (void)n;
    (void)p0; (void)p1; (void)panels_outer; (void)lo; (void)hi; (void)clamps; (void)ks; (void)add; (void)add_lo;
    (void)add_hi;
}

#endif
