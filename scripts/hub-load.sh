#!/usr/bin/env bash
# Load run for docs/hub.md: browse, search and download on a local magpie serve (release build).
set -euo pipefail
B=${1:-.build/release/magpie}
D=$(mktemp -d); PORT=18080; U=http://127.0.0.1:$PORT
$B serve --data "$D" --port $PORT --no-builtin-presets > /tmp/wrk-serve.log 2>&1 &
PID=$!; trap 'kill $PID 2>/dev/null' EXIT
for i in $(seq 50); do curl -s --noproxy '*' $U/health >/dev/null && break; sleep 0.2; done
curl -s --noproxy '*' -X POST $U/api/users -H 'content-type: application/json' -d '{"name":"ada","password":"correct horse 1"}' >/dev/null
TOKEN=$(curl -s --noproxy '*' -X POST $U/api/tokens -H 'content-type: application/json' -d '{"name":"ada","password":"correct horse 1","label":"wrk"}' | python3 -c 'import sys,json; d=json.load(sys.stdin); print(d.get("secret") or d.get("token") or d)')
export MAGPIE_HUB_TOKEN=$TOKEN MAGPIE_HUB_URL=$U
$B hub push ${MAGPIE_TESTDATA:-../shared/testdata}/models/mobilenet_v1_0.25_128_quant.tflite ada/mobilenet-v1-025 >/dev/null
$B hub push ${MAGPIE_TESTDATA:-../shared/testdata}/models/mobilenet_v2_1.0_224_quant.tflite ada/mobilenet-v2 >/dev/null
for path in "/" "/api/models?q=mobilenet" "/api/models/ada/mobilenet-v2/versions/latest/file"; do
  echo "== GET $path"
  wrk -t2 -c16 -d10s "$U$path" | grep -E "Requests/sec|Transfer/sec|Latency|requests in"
done
