#!/usr/bin/env bash
# Replication between two ksan servers on loopback (docs/BENCHMARKS.md): s3perf writes 1 MiB
# and then 4 KiB objects to a bucket on server A replicated to server B; the script times the
# whole (writes until B has everything) and reads the latency quantiles A reports (from a
# version's write to its replica), then a trickle of single PUTs for the latency unloaded.
#   scripts/bench-replication.sh
# Needs s3perf built from ../shared/bench/s3perf (S3PERF, default /tmp/s3perf-target/release/s3perf)
# and aws-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
S3PERF="${S3PERF:-/tmp/s3perf-target/release/s3perf}"
AK=BENCHREPLICATIONKEY1 SK=bench-replication-secret-key-0000000001
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1
cargo build --release -p ksan
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/ksan"
DIR="$(mktemp -d /tmp/ksan-bench-repl.XXXXXX)"
A=7800 B=7810

start() { # port data-dir
  KSAN_LOG=warn KSAN_ROOT_ACCESS_KEY=$AK KSAN_ROOT_SECRET_KEY=$SK "$BIN" server --data "$2" \
    --listen "127.0.0.1:$1" --admin-listen "127.0.0.1:$(($1+1))" --verify-rate 0 >> "$2.out" 2>> "$2.log" &
  echo $!
}
PA=$(start $A "$DIR/a"); PB=$(start $B "$DIR/b")
trap 'kill $PA $PB 2>/dev/null || true' EXIT  # PA changes with restarts: the trap reads it at exit
for p in $A $B; do
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$((p+1))/health" > /dev/null && break; sleep 0.1; done
done
s3() { aws --endpoint-url "http://127.0.0.1:$1" s3api "${@:2}"; }
metric() { curl -s "http://127.0.0.1:$((A+1))/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
for p in $A $B; do
  s3 $p create-bucket --bucket repl > /dev/null
  s3 $p put-bucket-versioning --bucket repl --versioning-configuration Status=Enabled
done
KSAN_ROOT_ACCESS_KEY=$AK KSAN_ROOT_SECRET_KEY=$SK "$BIN" replication-target add b --ksan \
  --target-endpoint "http://127.0.0.1:$B" --access-key $AK --secret-key $SK --endpoint "http://127.0.0.1:$((A+1))"
s3 $A put-bucket-replication --bucket repl --replication-configuration '{"Role":"r","Rules":[{"ID":"all","Priority":1,"Status":"Enabled","Filter":{"Prefix":""},"DeleteMarkerReplication":{"Status":"Disabled"},"Destination":{"Bucket":"arn:ksan:replication::b:repl"}}]}'
T='target="arn:ksan:replication::b:repl"'

restart_a() { # fresh latency samples for the next phase
  kill -TERM "$PA"
  while kill -0 "$PA" 2>/dev/null; do sleep 0.05; done
  PA=$(start $A "$DIR/a")
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$((A+1))/health" > /dev/null && break; sleep 0.1; done
}
run() { # label s3perf-args...
  restart_a
  local before; before=$(metric "ksan_replication_objects_total{$T}"); before=${before:-0}
  local ca cb t0 t1; ca=$(cpu_s $PA); cb=$(cpu_s $PB); t0=$(date +%s.%N)
  "$S3PERF" run --endpoint "http://127.0.0.1:$A" --access-key $AK --secret-key $SK --bucket repl \
    --server-pid "$PA" --label "$1" --keep --settle 0 "${@:2}" > "$DIR/$1.txt" 2>&1
  while [ "$(metric "ksan_replication_backlog{$T}")" != 0 ]; do sleep 0.05; done
  t1=$(date +%s.%N)
  local after; after=$(metric "ksan_replication_objects_total{$T}")
  local n=$((after - before)) secs; secs=$(echo "$t1 - $t0" | bc)
  echo "$1: $n objects replicated in $secs s (writes and replication together): $(echo "$n / $secs" | bc) objects/s;" \
    "server CPU A $(echo "$(cpu_s $PA) - $ca" | bc) s, B $(echo "$(cpu_s $PB) - $cb" | bc) s;" \
    "latency p50 $(metric "ksan_replication_latency_seconds{$T,quantile=\"0.5\"}") s p99 $(metric "ksan_replication_latency_seconds{$T,quantile=\"0.99\"}") s (last 10,000)"
  grep -E "put-" "$DIR/$1.txt" | head -2 || true
}
echo "== one PUT every 50 ms, 200 times (4 KiB): the latency unloaded"
restart_a
head -c 4096 /dev/urandom > "$DIR/4k"
for i in $(seq 200); do s3 $A put-object --bucket repl --key "trickle/$i" --body "$DIR/4k" > /dev/null; sleep 0.05; done
while [ "$(metric "ksan_replication_backlog{$T}")" != 0 ]; do sleep 0.05; done
echo "replicated $(metric "ksan_replication_objects_total{$T}"); latency p50 $(metric "ksan_replication_latency_seconds{$T,quantile=\"0.5\"}") s," \
  "p99 $(metric "ksan_replication_latency_seconds{$T,quantile=\"0.99\"}") s"
run medium --tests put-medium --duration 15 --medium-max 2000
run small --tests small --duration 8 --small-max 10000
