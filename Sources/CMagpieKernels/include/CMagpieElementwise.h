#ifndef CMAGPIE_ELEMENTWISE_H
#define CMAGPIE_ELEMENTWISE_H
#include <stdint.h>

/// 1 when this CPU runs the AVX2 elementwise kernels below (x86-64 with AVX2 and FMA), else 0. Elsewhere the
/// kernels are empty stubs: callers must check this first.
int mqe_cpu_supported(void);

/// TFLite's quantized ADD / SUB of two same-shape 8-bit tensors (`AddElementwise` / `SubElementwise`):
/// `out = clamp(R(R(((x1 + off1) << ls), m1, e1) +/- R(((x2 + off2) << ls), m2, e2), mo, eo) + out_off)`,
/// where `R(x, m, e) = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), e)`.
///
/// Preconditions (checked by the Swift caller, which otherwise keeps the reference kernel): multipliers >= 0,
/// exponents (right shifts) in 0...31, left shift in 0...30, and type min <= act_min <= act_max <= type max.
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;  // minus the input zero points; the output zero point
    int32_t left_shift;
    int32_t input1_multiplier, input1_exponent;
    int32_t input2_multiplier, input2_exponent;
    int32_t output_multiplier, output_exponent;
    int32_t act_min, act_max;
    int32_t is_signed;                                    // 1: int8 elements, 0: uint8
    int32_t subtract;                                     // 1: SUB (input 1 minus input 2), 0: ADD
} mqe_add;

/// Runs `count` elements of `p`'s operation: out[i] = a[i] (+/-) b[i]. `out` may equal `a` or `b`.
void mqe_add_run(const mqe_add *p, const void *a, const void *b, void *out, int64_t count);

/// XNNPACK's quantized ADD of two same-shape 8-bit tensors (Requantization.xnnpack):
/// `out = clamp(((bias + x1 * m1 + x2 * m2) >> shift) + out_off)`, an arithmetic shift, in wrapping int32 lanes;
/// `bias` holds the input zero points and the rounding constant 2^(shift - 1).
/// Preconditions (checked by the Swift caller): shift in 1...31, type min <= act_min <= act_max <= type max.
typedef struct {
    int32_t bias, multiplier1, multiplier2, shift, output_offset;
    int32_t act_min, act_max;
    int32_t is_signed;                                    // 1: int8 elements, 0: uint8
} mqe_shifted_add;

/// Runs `count` elements of `p`'s ADD: out[i] = a[i] + b[i]. `out` may equal `a` or `b`.
void mqe_shifted_add_run(const mqe_shifted_add *p, const void *a, const void *b, void *out, int64_t count);

#endif
