#!/usr/bin/env bash
# One command for all tests: installs what is missing, then runs the suite optimized (numeric code is 10-100x
# slower in debug builds). LiteRT (python, ai-edge-litert) enables the differential operator tests; without it
# they skip and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
magpie_install_packages python3-pip
if ! python3 -c "import ai_edge_litert.interpreter, numpy" 2>/dev/null; then
    python3 -m pip install -q ai-edge-litert numpy pillow 2>/dev/null \
        || python3 -m pip install -q --break-system-packages ai-edge-litert numpy pillow \
        || echo "magpie: could not install ai-edge-litert; LiteRT differential tests will be skipped" >&2
fi
# ONNX Runtime, the second peer runtime (EndToEndTests.testPeersAgreeOnARealModel).
if ! python3 -c "import onnxruntime" 2>/dev/null; then
    python3 -m pip install -q onnxruntime 2>/dev/null \
        || python3 -m pip install -q --break-system-packages onnxruntime \
        || echo "magpie: could not install onnxruntime; the ONNX Runtime peer test will be skipped" >&2
fi
# Headless Chromium, its driver and selenium for the hub's browser test (BrowserTests skip with a message without them).
magpie_install_packages chromium chromium-driver \
    || echo "magpie: could not install chromium/chromium-driver; browser tests will be skipped" >&2
if ! python3 -c "import selenium" 2>/dev/null; then
    python3 -m pip install -q selenium 2>/dev/null \
        || python3 -m pip install -q --break-system-packages selenium \
        || echo "magpie: could not install selenium; browser tests will be skipped" >&2
fi
# PostgreSQL for the hub's repository contract (PostgresRepositoryTests skip with a message without it).
if [ -z "${MAGPIE_TEST_POSTGRES_URL:-}" ] && [ "$(id -u)" -eq 0 ]; then
    MAGPIE_TEST_POSTGRES_URL=$(scripts/start-postgres.sh 2>/dev/null) && export MAGPIE_TEST_POSTGRES_URL \
        || echo "magpie: PostgreSQL could not start; PostgresStore tests will be skipped" >&2
fi
swift build -c release -Xswiftc -enable-testing $(magpie_release_flags) --build-tests
log=$(mktemp)
set +e
swift test -c release -Xswiftc -enable-testing $(magpie_release_flags) --skip-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain closing line with XCTest's totals (its own summary is followed by Swift Testing's, which counts 0).
summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -1)
executed=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failures? .*/\1/' <<<"$summary")
skipped=$(grep -oE "with [0-9]+ tests? skipped" <<<"$summary" | grep -oE "[0-9]+" || true)
rm -f "$log"
# On a CPU with AVX-512 the C kernels run their AVX-512 (and VNNI) variants; MAGPIE_MAX_ISA=avx2 makes them report
# AVX2 only, so the kernel and conformance tests run once more on the AVX2 variants (what AVX2-only CPUs run).
if [ "$status" -eq 0 ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    echo "magpie: the same build with MAGPIE_MAX_ISA=avx2 (the AVX2 kernels of CPUs without AVX-512)" >&2
    set +e
    MAGPIE_MAX_ISA=avx2 swift test -c release -Xswiftc -enable-testing $(magpie_release_flags) --skip-build \
        --filter 'QuantizedKernelConvTests|QuantizedElementwiseKernelTests|FloatKernelTests|GoldenConformanceTests|RequantizationTests' \
        2>&1 | grep -E "error|Executed .* tests" | tail -20
    status=${PIPESTATUS[0]}
    set -e
    echo "AVX2 kernel tests: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
fi
# The portable build (MAGPIE_PORTABLE=1: no -target-cpu, what a distributable binary uses) in its own build folder:
# the kernel and conformance tests again, so code that only works with the native CPU's features cannot slip in.
# The C kernels pick AMX, AVX-512 or AVX2 (or the reference path) at run time. This first run caps them at AVX-512
# (MAGPIE_MAX_ISA=avx512), so on an AMX machine the VNNI GEMM is tested too; a second run with MAGPIE_MAX_ISA=generic
# makes them report no AVX2, so the kernels a CPU without it runs (Swift SIMD float kernels, the reference quantized
# ones) are tested against the reference too. The first runs the opt-in bfloat16 precision's tests without AMX (its
# AVX512_BF16 form where the CPU has that, else the check that it gives the float32 results); the second checks that
# it gives the float32 results. Skip with MAGPIE_TEST_PORTABLE=0.
if [ "$status" -eq 0 ] && [ "${MAGPIE_TEST_PORTABLE:-1}" = "1" ] && [ "${MAGPIE_PORTABLE:-0}" != "1" ]; then
    echo "magpie: portable build (MAGPIE_PORTABLE=1) kernel and conformance tests" >&2
    fallback='BFloat16Tests/testBFloat16FallsBackToFloat32'
    portable_filter="QuantizedKernelConvTests|QuantizedElementwiseKernelTests|FloatKernelTests|GoldenConformanceTests|BFloat16Tests|RequantizationTests"
    generic_filter="FloatKernelTests|GoldenConformanceTests|ConvolutionModelLayerTests|$fallback"
    swift build -c release -Xswiftc -enable-testing --build-path .build-portable --build-tests
    set +e
    MAGPIE_MAX_ISA=avx512 swift test -c release -Xswiftc -enable-testing --build-path .build-portable --skip-build \
        --filter "$portable_filter" 2>&1 | grep -E "error|Executed .* tests" | tail -20
    status=${PIPESTATUS[0]}
    echo "magpie: the same build with MAGPIE_MAX_ISA=generic (the kernels of CPUs without AVX2)" >&2
    MAGPIE_MAX_ISA=generic swift test -c release -Xswiftc -enable-testing --build-path .build-portable --skip-build \
        --filter "$generic_filter" 2>&1 | grep -E "error|Executed .* tests" | tail -20
    generic_status=${PIPESTATUS[0]}
    [ "$status" -eq 0 ] && status=$generic_status
    set -e
    echo "portable tests: $([ "$status" -eq 0 ] && echo passed || echo FAILED)"
fi
if [ -n "$executed" ]; then
    echo "tests: $((executed - ${failed:-0} - ${skipped:-0})) passed, ${failed:-0} failed, ${skipped:-0} skipped"
fi
exit "$status"
