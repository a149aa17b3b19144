#!/usr/bin/env bash
# One command on a fresh Debian machine with Swift: install what is missing, build in release mode, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
magpie_install_packages
swift build -c release $(magpie_release_flags)
echo
echo "== main job: classify the sample image with the built-in MobileNetV2 (no download) =="
.build/release/magpie classify builtin:mobilenet_v2 samples/pattern.png --top 5
