#!/usr/bin/env bash
# Media benchmark (not part of CI, not a timed test): what a WebRTC PeerConnection costs roomstorm
# against a real Janus (VideoRoom), beside the floor, measured in one run.
#
# ROOMS rooms of PUBLISHERS members arrive over RAMP s (after a 2 s lead-in), each publishing and
# subscribing to every other member of its room (PUBLISHERS² PeerConnections a room: one to
# publish, PUBLISHERS − 1 to receive), hold HOLD s from their publish, then unpublish and leave:
#
#   MODE=av      audio (Opus, 32 kbit/s, 20 ms: 50 packets/s) + video (VP8, 500 kbit/s, 30 fps,
#                2 packets a frame: 60 packets/s), a keyframe every 2 s
#   MODE=audio   the audio track only: every PeerConnection carries 50 packets/s (the
#                "500 PeerConnections per core at 50 packets/s" figure)
#
# Two clients do this in turn, ROUNDS times (the floor first in odd rounds, roomstorm first in
# even ones, as benches/participant_lifecycle.rs), all in ONE `scripts/janus netns` (one network
# namespace, one Janus, which media with Janus needs; docs/janus.md):
#
#   roomstorm  target/release/roomstorm run on a generated scenario (the actix participants,
#              recorders, histograms, presence, summary.json)
#   floor      benches/media_floor.rs: a bare tokio client on the same WebRTC stack (the same
#              PeerConnection settings, codecs, interceptors and synthetic frames), counting
#              packets and nothing else
#
# While each runs, bench/procstat.py samples its RSS and CPU ticks (utime + stime, its whole
# process) and Janus's CPU ticks every 0.5 s. Figures are taken over the steady window, from
# SETTLE s after the last arrival to the first departure (everyone connected, media flowing):
#
#   PCs               PeerConnections connected at the start of the window (of the expected)
#   sent, received    RTP packets a second the client wrote and read in the window (roomstorm:
#                     summary.json's per-second series; floor: its own per-second counts)
#   CPU per PC-second tester CPU time in the window / (PCs × window length), µs; and the
#                     PeerConnections one core carries at this rate (10⁶ / that)
#   CPU per packet    tester CPU time / (packets sent + received) in the window, µs
#   RSS per PC        (median RSS in the window − median RSS before the first connection) / PCs
#   Janus CPU         Janus's CPU in the window, % of one core
#
# then, per round and as the median over rounds, roomstorm / floor (target ≤ 1.2× on CPU and RSS)
# and roomstorm's own health: media_pacing p99 (how late frames left their schedule), loss,
# generator-limited. Defaults take about 3 minutes on 2 cores (build excluded):
#
#   bench/media.sh                                          # MODE=av ROOMS=4 PUBLISHERS=4: 64 PCs
#   MODE=audio ROOMS=20 PUBLISHERS=5 bench/media.sh         # 500 PCs at 50 packets/s each
#   MODE=audio ROOMS=40 PUBLISHERS=5 RAMP=10 SETTLE=5 HOLD=40 ROUNDS=1 bench/media.sh   # 1000 PCs
#
# Janus shares the machine: with subscribe-all rooms it forwards PUBLISHERS − 1 copies of every
# packet, so watch its CPU % (and the "machine" line: what else ran) before calling the tester
# the limit. Measured on the project's 2-core machine (Janus 1.1.2; other builds running beside,
# so absolute figures drift by up to 1.5× between runs, ratios within a round much less):
#   default (64 PCs, av): roomstorm/floor 0.92× CPU, 1.07× RSS per PC (median of 3); ~2,700–4,900
#     µs CPU per PC-second at 110 packets/s, ~600 KiB RSS per PC; roomstorm's pacing p99 ~2 ms
#   MODE=audio, 500 PCs: ~800–1,500 µs per PC-second (700–1,250 PCs per core at 50 packets/s),
#     ~240–300 KiB RSS per PC; Janus needs ~0.9 of a core for them, so at 500 PCs the machine is
#     full and the limit is Janus (at 1,000 PCs: Janus 1.2 cores, latency p99 1.5 s; Janus pinned
#     to one core: 24% loss and failed PeerConnections), not the tester. KEEP=DIR keeps every round's
# files (roomstorm's run folders, the floor's output, the /proc samples). The script starts
# everything it ends (its clients, their samplers; Janus through scripts/janus, by PID), and all
# traffic stays inside the namespace (Janus on its 127.0.0.1, media on 127.0.0.2).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${MODE:-av}
ROOMS=${ROOMS:-4}
PUBLISHERS=${PUBLISHERS:-4}
RAMP=${RAMP:-3}
HOLD=${HOLD:-20}
SETTLE=${SETTLE:-3}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-$(nproc)}
PORT=${PORT:-18311}
# ROOMSTORM_BIN=PATH measures another roomstorm build (the floor is always this tree's).
# PIN=J:C pins Janus (all its threads) to CPU list J and each client to CPU list C (taskset), e.g.
# PIN=0:1: one core each, so that "PCs per core" is what one core sustains; other processes of
# the machine are not pinned.
PIN=${PIN:-}
LEAD=2

machine() { # every 0.5 s until $1 ends, to $2: seconds, the machine's CPU ticks (all cores) in
    # user, system, irq + softirq, idle + iowait, steal: what else ran beside the tester and Janus
    python3 - "$1" "$2" <<'PY'
import os, sys, time
pid, out, t0 = int(sys.argv[1]), sys.argv[2], time.monotonic()
def alive():
    try:
        return not open(f"/proc/{pid}/stat").read().split(") ")[1].startswith("Z")
    except OSError:
        return False
with open(out, "w") as f:
    while alive():
        c = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
        f.write(f"{time.monotonic() - t0:.2f} {c[0] + c[1]} {c[2]} {c[5] + c[6]} {c[3] + c[4]} {c[7]}\n")
        f.flush()
        time.sleep(0.5)
PY
}

inside() { # in the namespace, with JANUS_URL, ROOMSTORM_MEDIA_IP and JANUS_DIR set
    local janus_pid round side order
    janus_pid=$(cat "$JANUS_DIR/janus.pid")
    echo "$janus_pid" > "$WORK/janus.pid"
    local pin=()
    if [ -n "$PIN" ]; then
        taskset -a -p -c "${PIN%%:*}" "$janus_pid" > /dev/null
        pin=(taskset -c "${PIN#*:}")
    fi
    cat > "$WORK/media.yaml" <<YAML
version: 1
name: bench-media
seed: 14
deadline: $(( LEAD + RAMP + HOLD + 60 ))s
target: { url: "$JANUS_URL", driver: janus }
rooms: { count: $ROOMS, name: "bench-media-{index}" }
groups:
  - name: publisher
    per_room: $PUBLISHERS
    user: "p-{room_index}-{n}"
    order: interleaved
    arrival: { ramp: { start: ${LEAD}s, over: ${RAMP}s } }
    media:
      publish:
$(if [ "$MODE" = av ]; then
    printf '        - { kind: audio, codec: opus, bitrate: 32kbps }\n'
    printf '        - { kind: video, codec: vp8, bitrate: 500kbps, fps: 30, keyframe_interval: 2s }\n'
else
    printf '        - { kind: audio, codec: opus, bitrate: 32kbps }\n'
fi)
      subscribe: all
    script: [join, publish, { hold: ${HOLD}s }, unpublish, leave]
    expect: { completed: $(( ROOMS * PUBLISHERS )) }
YAML
    for round in $(seq "$ROUNDS"); do
        if [ $(( round % 2 )) -eq 1 ]; then order="floor roomstorm"; else order="roomstorm floor"; fi
        for side in $order; do
            local base="$WORK/r$round-$side" pid s1 s2 s3 rc=0
            echo "round $round/$ROUNDS: $side …" >&2
            if [ "$side" = roomstorm ]; then
                ROOMSTORM_LOG=roomstorm=warn "${pin[@]}" "$BIN" run "$WORK/media.yaml" --workers "$WORKERS" \
                    --out "$base.out" --quiet > "$base.stdout" 2> "$base.stderr" &
            else
                "${pin[@]}" "$FLOOR" --rooms "$ROOMS" --publishers "$PUBLISHERS" --hold "$HOLD" --ramp "$RAMP" \
                    --lead "$LEAD" --mode "$MODE" --workers "$WORKERS" > "$base.stdout" 2> "$base.stderr" &
            fi
            pid=$!
            python3 bench/procstat.py sample "$pid" "$pid" "$base.self.tsv" &
            s1=$!
            python3 bench/procstat.py sample "$pid" "$janus_pid" "$base.janus.tsv" &
            s2=$!
            machine "$pid" "$base.machine.tsv" &
            s3=$!
            wait "$pid" || rc=$?
            wait "$s1" "$s2" "$s3" || true
            echo "$rc" > "$base.rc"
        done
    done
}

if [ "${1:-}" = _inside ]; then
    inside
    exit 0
fi

case "$MODE" in av | audio) ;; *) echo "MODE must be av or audio" >&2; exit 2 ;; esac
if [ "$HOLD" -lt $(( RAMP + SETTLE + 5 )) ]; then
    echo "HOLD must exceed RAMP + SETTLE by 5 s or more: figures are taken while everyone is connected," >&2
    echo "from SETTLE s after the last arrival to the first departure" >&2
    exit 2
fi

cargo build --release --quiet
# The floor's executable, as cargo bench builds it (the bench profile: optimized, no debug info).
FLOOR=$(cargo bench --bench media_floor --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -n 1)
[ -x "$FLOOR" ] || { echo "could not build benches/media_floor.rs" >&2; exit 1; }
BIN=${ROOMSTORM_BIN:-$PWD/target/release/roomstorm}
FLOOR=$(realpath "$FLOOR")
WORK=$(mktemp -d)
cleanup() {
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP/"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
export MODE ROOMS PUBLISHERS RAMP HOLD SETTLE ROUNDS WORKERS LEAD BIN FLOOR WORK PIN

scripts/janus netns --dir "$WORK/janus" --port "$PORT" -- "$PWD/bench/media.sh" _inside

python3 - "$WORK" "$(getconf CLK_TCK)" <<'PY'
import glob, json, os, statistics, sys

work, hz = sys.argv[1], float(sys.argv[2])
env = lambda k: os.environ[k]
mode, rooms, pubs = env("MODE"), int(env("ROOMS")), int(env("PUBLISHERS"))
ramp, hold, settle, lead = float(env("RAMP")), float(env("HOLD")), float(env("SETTLE")), float(env("LEAD"))
rounds, workers = int(env("ROUNDS")), int(env("WORKERS"))
expected_pcs = rooms * pubs * pubs
w0, w1 = lead + ramp + settle, lead + hold - 0.5
pps_per_pub = 50 + (60 if mode == "av" else 0)
print(f"media: {rooms} rooms × {pubs} publishers, {'audio 32 kbit/s + video 500 kbit/s 30 fps' if mode == 'av' else 'audio 32 kbit/s'} "
      f"({pps_per_pub} packets/s a publisher), subscribe all: {expected_pcs} PeerConnections; "
      f"ramp {ramp:.0f} s, hold {hold:.0f} s, window {w0:.1f}–{w1:.1f} s, {workers} workers, {rounds} rounds"
      + (f", Janus on CPU {os.environ['PIN'].split(':')[0]}, clients on CPU {os.environ['PIN'].split(':')[1]}" if os.environ.get("PIN") else ""))
print(f"  expected: sent {rooms * pubs * pps_per_pub} packets/s, received {rooms * pubs * (pubs - 1) * pps_per_pub} packets/s")


def samples(path):
    return [tuple(map(float, l.split())) for l in open(path) if l.strip()]


def rate(rows, col, a, b):
    """Growth per second of a cumulative column between the first and last sample in [a, b]."""
    inside = [r for r in rows if a <= r[0] <= b]
    if len(inside) < 2:
        return float("nan")
    return (inside[-1][col] - inside[0][col]) / (inside[-1][0] - inside[0][0])


def measure(base, side):
    me, janus = samples(f"{base}.self.tsv"), samples(f"{base}.janus.tsv")
    rc = int(open(f"{base}.rc").read())
    before = [r[1] for r in me if lead - 1.0 <= r[0] <= lead - 0.2] or [me[0][1]]
    during = [r[1] for r in me if w0 <= r[0] <= w1]
    box = samples(f"{base}.machine.tsv")
    busy = {k: rate(box, i, w0, w1) / hz for i, k in ((1, "user"), (2, "system"), (3, "irq"), (4, "idle"), (5, "steal"))}
    m = {"rc": rc, "cpu": rate(me, 3, w0, w1) / hz, "janus_cpu": rate(janus, 3, w0, w1) / hz, "machine": busy,
         "rss_before": statistics.median(before), "rss_during": statistics.median(during) if during else float("nan")}
    if side == "roomstorm":
        summary = glob.glob(f"{base}.out/*/summary.json")
        if not summary:
            print(open(f"{base}.stdout").read() + open(f"{base}.stderr").read())
            sys.exit(1)
        s = json.load(open(summary[0]))
        series = s["series"]
        # Each series row covers the second before its t (on the run's clock, which starts a few
        # ms after the process: the rooms are created first).
        rows = [r for r in series if r["t"] - 1.0 >= w0 - 0.01 and r["t"] <= w1 + 0.01]
        n = max(len(rows), 1)
        m["sent"] = sum(r.get("media", {}).get("packets_sent", 0) for r in rows) / n
        m["received"] = sum(r.get("media", {}).get("packets_received", 0) for r in rows) / n
        m["pcs"] = sum(r["latency"].get("dtls_connected", {}).get("count", 0)
                       for r in series if r["t"] <= w0 + 0.01)
        pacing = [r["latency"]["media_pacing"]["p99"] for r in rows if "media_pacing" in r["latency"]]
        media = s.get("media") or {}
        m["health"] = {
            "pacing_p99_ms": s["latency"].get("media_pacing", {}).get("p99", 0) / 1000,
            "pacing_p99_window_max_ms": max(pacing, default=0) / 1000,
            "latency_p99_ms": s["latency"].get("media_latency", {}).get("p99", 0) / 1000,
            "loss": media.get("loss_ratio", float("nan")),
            "missing": media.get("missing", 0),
            "failures": media.get("subscribe_failures", 0) + media.get("connection_failures", 0),
            "limited": (s.get("generator") or {}).get("limited"),
            "verdict": s["verdict"],
            "cpu_percent": statistics.median([r["cpu_percent"] for r in rows]) if rows else float("nan"),
        }
    else:
        ticks = [tuple(map(float, l.split()[1:])) for l in open(f"{base}.stdout") if l.startswith("tick ")]
        m["sent"] = rate(ticks, 1, w0, w1)
        m["received"] = rate(ticks, 2, w0, w1)
        at_start = [t for t in ticks if t[0] <= w0 + 0.01]
        m["pcs"] = int(at_start[-1][3]) if at_start else 0
        m["failed_pcs"] = int(ticks[-1][4]) if ticks else 0
    pcs = max(m["pcs"], 1)
    m["cpu_pc_us"] = m["cpu"] * 1e6 / pcs
    m["cpu_pkt_us"] = m["cpu"] * 1e6 / max(m["sent"] + m["received"], 1e-9)
    m["rss_pc_kib"] = (m["rss_during"] - m["rss_before"]) / pcs
    return m


def line(side, m):
    extra = ""
    if side == "roomstorm":
        h = m["health"]
        extra = (f" · pacing p99 {h['pacing_p99_ms']:.1f} ms (worst second {h['pacing_p99_window_max_ms']:.1f} ms), "
                 f"latency p99 {h['latency_p99_ms']:.1f} ms, loss {h['loss'] * 100:.3f}%, missing {h['missing']}, "
                 f"failures {h['failures']}, generator-limited {h['limited']}, verdict {h['verdict']}")
    elif m.get("failed_pcs"):
        extra = f" · {m['failed_pcs']} PeerConnections failed"
    b = m["machine"]
    used = b["user"] + b["system"] + b["irq"]
    extra += (f"\n             machine ({os.cpu_count()} cores): {used:.2f} busy = user {b['user']:.2f} + system {b['system']:.2f} "
              f"+ irq/softirq {b['irq']:.2f}, idle {b['idle']:.2f}, steal {b['steal']:.2f}; "
              f"beside this client and Janus: {used - m['cpu'] - m['janus_cpu']:.2f} cores")
    warn = "" if m["pcs"] >= expected_pcs else f" (ONLY {m['pcs']} of {expected_pcs} connected at the window's start: raise SETTLE)"
    return (f"{side:>9}: PCs {m['pcs']}/{expected_pcs}{warn}, exit {m['rc']} · sent {m['sent']:.0f}/s, received {m['received']:.0f}/s · "
            f"CPU {m['cpu'] * 100:.1f}% of a core = {m['cpu_pc_us']:.0f} µs per PC-second ({1e6 / m['cpu_pc_us']:.0f} PCs per core), "
            f"{m['cpu_pkt_us']:.2f} µs per packet · RSS {m['rss_before'] / 1024:.1f} → {m['rss_during'] / 1024:.1f} MiB = "
            f"{m['rss_pc_kib']:.0f} KiB per PC · Janus CPU {m['janus_cpu'] * 100:.0f}%{extra}")


results = []
for r in range(1, rounds + 1):
    fl, rs = measure(f"{work}/r{r}-floor", "floor"), measure(f"{work}/r{r}-roomstorm", "roomstorm")
    print(f"round {r}")
    print("  " + line("floor", fl))
    print("  " + line("roomstorm", rs))
    ratio = {k: rs[k] / fl[k] for k in ("cpu_pc_us", "cpu_pkt_us", "rss_pc_kib")}
    print(f"  roomstorm / floor: CPU per PC-second {ratio['cpu_pc_us']:.2f}×, per packet {ratio['cpu_pkt_us']:.2f}×, "
          f"RSS per PC {ratio['rss_pc_kib']:.2f}×")
    results.append((fl, rs, ratio))

med = lambda xs: statistics.median(xs)
print(f"median of {rounds} round(s)")
for i, side in ((0, "floor"), (1, "roomstorm")):
    ms = [x[i] for x in results]
    print(f"  {side:>9}: sent {med([m['sent'] for m in ms]):.0f}/s, received {med([m['received'] for m in ms]):.0f}/s · "
          f"{med([m['cpu_pc_us'] for m in ms]):.0f} µs CPU per PC-second ({1e6 / med([m['cpu_pc_us'] for m in ms]):.0f} PCs per core), "
          f"{med([m['cpu_pkt_us'] for m in ms]):.2f} µs per packet · {med([m['rss_pc_kib'] for m in ms]):.0f} KiB RSS per PC · "
          f"Janus CPU {med([m['janus_cpu'] for m in ms]) * 100:.0f}%")
rat = {k: med([x[2][k] for x in results]) for k in ("cpu_pc_us", "cpu_pkt_us", "rss_pc_kib")}
ok = lambda v: "ok" if v <= 1.2 else "OVER"
print(f"  roomstorm / floor: CPU per PC-second {rat['cpu_pc_us']:.2f}× [{ok(rat['cpu_pc_us'])}], per packet {rat['cpu_pkt_us']:.2f}× "
      f"[{ok(rat['cpu_pkt_us'])}], RSS per PC {rat['rss_pc_kib']:.2f}× [{ok(rat['rss_pc_kib'])}] (target ≤ 1.2×)")
rs_pc = med([x[1]["cpu_pc_us"] for x in results])
if mode == "audio":
    print(f"  roomstorm at 50 packets/s a PC: {1e6 / rs_pc:.0f} PeerConnections per core [{'ok' if 1e6 / rs_pc >= 500 else 'BELOW'} ≥ 500]")
print(json.dumps({"mode": mode, "rooms": rooms, "publishers": pubs, "pcs": expected_pcs, "rounds": rounds,
                  "cpu_pc_ratio": round(rat["cpu_pc_us"], 3), "cpu_packet_ratio": round(rat["cpu_pkt_us"], 3),
                  "rss_pc_ratio": round(rat["rss_pc_kib"], 3), "roomstorm_cpu_pc_us": round(rs_pc, 1),
                  "floor_cpu_pc_us": round(med([x[0]["cpu_pc_us"] for x in results]), 1)}))
PY
