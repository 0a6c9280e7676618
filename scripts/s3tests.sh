#!/usr/bin/env bash
# Run ceph/s3-tests (via ../shared/conformance) against a fresh release build of ksan.
#   scripts/s3tests.sh [pytest -k expression] [extra run.sh args...]
# Needs S3TESTS_GIT (the git dir `fetch github:ceph/s3-tests` returned) or S3TESTS_DIR.
# The server takes SSE-C keys over plain HTTP (--allow-insecure-sse-c: the suite sends them so)
# and has the suite's KMS keys testkey-1 and testkey-2.
# The suite's lifecycle tests marked fails_on_aws only wait on RGW's compressed lifecycle day
# (10 s); run them against a server with the same day (its flags read KSAN_* variables):
#   KSAN_LIFECYCLE_DAY_SECS=10 KSAN_LIFECYCLE_INTERVAL=1 \
#   S3TESTS_MARKERS="lifecycle_expiration and fails_on_aws and not lifecycle_transition" scripts/s3tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${KSAN_SHARED:-$(cd .. && pwd)/shared}"
PORT="${S3TESTS_PORT:-7480}"
export MAIN_AK=0555b35654ad1656d804 MAIN_SK='h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q=='
export ALT_AK=NOPQRSTUVWXYZABCDEFG ALT_SK=nopqrstuvwxyzabcdefghijklmnabcdefghijklm
export TENANT_AK=HIJKLMNOPQRSTUVWXYZA TENANT_SK=opqrstuvwxyzabcdefghijklmnopqrstuvwxyzab
cargo build --release -p ksan
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/ksan"
DATA="$(mktemp -d /tmp/ksan-s3t.XXXXXX)"
KSAN_LOG="${KSAN_LOG:-warn}" KSAN_ROOT_ACCESS_KEY=$MAIN_AK KSAN_ROOT_SECRET_KEY=$MAIN_SK \
  "$BIN" server --data "$DATA" --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$((PORT+1))" \
  --allow-insecure-sse-c \
  > "$DATA/server.out" 2> "$DATA/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "admin on" "$DATA/server.out" 2>/dev/null && break; sleep 0.1; done
export KSAN_ADMIN_ENDPOINT="http://127.0.0.1:$((PORT+1))" KSAN_ROOT_ACCESS_KEY=$MAIN_AK KSAN_ROOT_SECRET_KEY=$MAIN_SK
"$BIN" user create alt --access-key "$ALT_AK" --secret-key "$ALT_SK" --email john.doe@example.com > /dev/null
"$BIN" user create tenant --access-key "$TENANT_AK" --secret-key "$TENANT_SK" --email tenanteduser@example.com > /dev/null
"$BIN" kms create-key testkey-1 > /dev/null
"$BIN" kms create-key testkey-2 > /dev/null
"$SHARED/conformance/s3tests/run.sh" "http://127.0.0.1:$PORT" "$@" || true
echo "server log: $DATA/server.log"
