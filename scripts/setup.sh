#!/usr/bin/env bash
# One command on a fresh Debian machine with Swift: install what is missing, build in release mode, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
magpie_install_packages
swift build -c release $(magpie_release_flags)
echo
echo "== main job: the benchmark on the built-in MobileNetV2, float32 / uint8 / int8 (no download) =="
.build/release/magpie bench
