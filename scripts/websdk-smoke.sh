#!/usr/bin/env bash
# The real Qiniu Web SDK (npm qnweb-rtc, bundled with esbuild) in headless Chromium against
# `roomstorm serve` on loopback: join, presence with userData, room full (10011/21003), leave.
# Installs Debian's chromium and the npm packages in tests/websdk/ when missing. Every process it
# starts is stopped by PID on exit. Runs in CI (scripts/test.sh) and on demand.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cd tests/websdk
[ -d node_modules/qnweb-rtc ] || npm ci --silent --no-audit --no-fund
npx esbuild entry.js --bundle --format=iife --outfile=build/sdk.js --log-level=warning
bin="$repo/target/debug/roomstorm"
[ -x "$bin" ] || (cd "$repo" && cargo build --quiet)

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
export ROOMSTORM_ACCESS_KEY="websdk-ak" ROOMSTORM_SECRET_KEY="websdk-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$bin" serve --listen 127.0.0.1:0 --max-users 2 >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
python3 -m http.server 0 --bind 127.0.0.1 >"$work/http.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && grep -q "port" "$work/http.out" 2>/dev/null && break
  sleep 0.1
done
server=$(sed -n 's/.*listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/server.out" | head -1)
page_port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.out" | head -1)
[ -n "$server" ] && [ -n "$page_port" ] || { echo "websdk-smoke: server or page server did not start" >&2; cat "$work"/*; exit 1; }
mint() { "$bin" token mint --app app1 --room room-websdk --user "$1" --ttl 10m; }
node smoke.mjs "http://127.0.0.1:$page_port/index.html" "$server" "$(mint alice)" "$(mint bobby)" "$(mint carol)"
