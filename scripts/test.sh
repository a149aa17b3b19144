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
swift test -c release -Xswiftc -enable-testing $(magpie_release_flags) --skip-build "$@"
