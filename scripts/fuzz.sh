#!/usr/bin/env bash
# Long fuzzing runs with libFuzzer + AddressSanitizer over the model reader and interpreter.
# Usage: scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]   (default 300 s; crashes land in fuzz/artifacts/)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}; shift || true
swift build --scratch-path .build-fuzz --product magpie-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DMAGPIE_LIBFUZZER -Xswiftc -use-ld=lld
mkdir -p fuzz/corpus fuzz/artifacts
# Seed the corpus with small real models when the shared test data is present.
data=${MAGPIE_TESTDATA:-../shared/testdata}
for m in split_concat model_invoking_error mobilenet_v1_0.25_128_quant; do
    [ -f "$data/models/$m.tflite" ] && cp -n "$data/models/$m.tflite" fuzz/corpus/ || true
done
.build-fuzz/debug/magpie-fuzz fuzz/corpus -artifact_prefix=fuzz/artifacts/ -max_total_time="$seconds" -rss_limit_mb=4096 "$@"
