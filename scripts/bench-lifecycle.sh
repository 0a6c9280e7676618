#!/usr/bin/env bash
# The lifecycle executor's benchmark (docs/BENCHMARKS.md): a bucket of KEEP + DUE objects (DUE
# under a prefix a rule expires), then one lifecycle pass over it, timed, with the server's CPU
# seconds and memory sampled, and s3perf's small-object test run once without a pass and once
# during one (request latency).
#   scripts/bench-lifecycle.sh [KEEP] [DUE]        (default 990000 10000)
# Needs s3perf built from ../shared/bench/s3perf (S3PERF, default /tmp/s3perf-target/release/s3perf)
# and aws-cli. Everything runs on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP="${1:-990000}"
DUE="${2:-10000}"
S3PERF="${S3PERF:-/tmp/s3perf-target/release/s3perf}"
PORT="${BENCH_PORT:-7600}"
AK=BENCHLIFECYCLEKEY001 SK=bench-lifecycle-secret-key-000000000001
cargo build --release -p ksan
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/ksan"
DATA="$(mktemp -d /tmp/ksan-bench-lc.XXXXXX)"
OUT="${BENCH_OUT:-$DATA}"
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1

start() {
  KSAN_LOG=warn KSAN_ROOT_ACCESS_KEY=$AK KSAN_ROOT_SECRET_KEY=$SK "$BIN" server --data "$DATA" \
    --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$((PORT+1))" \
    --lifecycle-day-secs 1 --lifecycle-interval 1000000 --verify-rate 0 >> "$DATA/server.out" 2>> "$DATA/server.log" &
  PID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$((PORT+1))/health" > /dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
metric() { curl -s "http://127.0.0.1:$((PORT+1))/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$PID/stat"; }
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$PID/status"; }
perf() {
  "$S3PERF" run --endpoint "http://127.0.0.1:$PORT" --access-key $AK --secret-key $SK --bucket lcbench \
    --server-pid "$PID" --label "$1" "${@:2}"
}

start
trap 'kill $PID 2>/dev/null || true' EXIT
aws --endpoint-url "http://127.0.0.1:$PORT" s3api create-bucket --bucket lcbench > /dev/null
echo "== filling: $KEEP kept + $DUE due objects"
t0=$(date +%s)
perf fill-keep --tests list --list-keys "$KEEP" --list-reps 1 --keep --prefix keep > "$OUT/fill-keep.txt"
perf fill-due --tests list --list-keys "$DUE" --list-reps 1 --keep --prefix due > "$OUT/fill-due.txt"
echo "filled in $(( $(date +%s) - t0 )) s"
aws --endpoint-url "http://127.0.0.1:$PORT" s3api put-bucket-lifecycle-configuration --bucket lcbench \
  --lifecycle-configuration '{"Rules":[{"ID":"due","Status":"Enabled","Filter":{"Prefix":"due"},"Expiration":{"Days":1}}]}'
sleep 2

echo "== s3perf small without a pass"
perf no-pass --tests small --duration 8 --json-out "$OUT/lat.jsonl" | grep -E "4KiB" || true

echo "== restart: the pass starts with the server"
kill -TERM $PID; wait $PID || true
start
cpu0=$(cpu_s); rss0=$(rss_kib); t0=$(date +%s.%N)
perf during-pass --tests small --duration 8 --json-out "$OUT/lat.jsonl" > "$OUT/during.txt" &
PERF=$!
peak=$rss0
while [ "$(metric ksan_lifecycle_passes_total)" != 1 ]; do
  r=$(rss_kib); [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.05
done
t1=$(date +%s.%N); cpu1=$(cpu_s)
wait $PERF
grep -E "4KiB" "$OUT/during.txt" || true
echo "== pass"
echo "wall $(echo "$t1 - $t0" | bc) s (server's own: $(metric ksan_lifecycle_last_pass_seconds) s)"
echo "server CPU during the pass (with the s3perf load): $(echo "$cpu1 - $cpu0" | bc) s"
echo "rows walked $(metric ksan_lifecycle_scanned_total), expired $(metric 'ksan_lifecycle_actions_total{action="expire_current"}')"
echo "server RSS: $rss0 KiB at start, peak $peak KiB during the pass"
echo "== a second pass alone (nothing due): wall and CPU"
kill -TERM $PID; wait $PID || true
start
cpu0=$(cpu_s); t0=$(date +%s.%N)
while [ "$(metric ksan_lifecycle_passes_total)" != 1 ]; do sleep 0.05; done
t1=$(date +%s.%N); cpu1=$(cpu_s)
echo "wall $(echo "$t1 - $t0" | bc) s, server CPU $(echo "$cpu1 - $cpu0" | bc) s, rows $(metric ksan_lifecycle_scanned_total), RSS $(rss_kib) KiB"
"$S3PERF" table "$OUT/lat.jsonl" | grep -E "test|4KiB" || true
