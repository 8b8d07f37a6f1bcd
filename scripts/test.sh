#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, then runs every test.
#  - a Python virtual environment in .venv with the official Qiniu SDK (PyPI `qiniu`), which the
#    SDK-compatibility test drives against the reference server;
#  - the Rust tests, with cargo-nextest when present (the plain `cargo test` otherwise);
#  - Debian's janus, a real third-party RTC server (scripts/janus installs, starts and stops it);
#  - Debian's chromium, for the HTML report test and for the real Qiniu Web SDK against the
#    reference server (scripts/websdk-smoke.sh, which also installs its npm packages).
set -euo pipefail
cd "$(dirname "$0")/.."

QINIU_VERSION=7.18.0
if ! .venv/bin/python -c "import qiniu" >/dev/null 2>&1; then
  if ! python3 -m venv .venv >/dev/null 2>&1; then
    echo "python3 -m venv failed; installing python3-venv" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv .venv
  fi
  .venv/bin/pip install --quiet --disable-pip-version-check "qiniu==${QINIU_VERSION}"
fi
export ROOMSTORM_PYTHON="$PWD/.venv/bin/python"

# Headless Chromium for the HTML report test and the Web SDK check (Debian's package).
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export ROOMSTORM_REQUIRE_BROWSER=1

# Janus (Debian's package), a real third-party RTC server; the tests start their own instances on
# loopback ports of their own through scripts/janus and stop them by PID.
scripts/janus install
export ROOMSTORM_REQUIRE_JANUS=1

status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast "$@" || status=1
else
  cargo test --no-fail-fast "$@" || status=1
fi
scripts/websdk-smoke.sh || status=1
# The 12,000-participant, 4-shard run needs the release binary (the quick start's build too); it
# runs alone, after the others, so that nothing else competes for the two cores.
if cargo build --release --quiet; then
  if cargo nextest --version >/dev/null 2>&1; then
    ROOMSTORM_BIN="$PWD/target/release/roomstorm" cargo nextest run --test shards --run-ignored only \
      -E 'test(four_local_shards_of_twelve_thousand)' || status=1
  else
    ROOMSTORM_BIN="$PWD/target/release/roomstorm" cargo test --test shards -- --ignored \
      four_local_shards_of_twelve_thousand || status=1
  fi
else
  status=1
fi
exit $status
