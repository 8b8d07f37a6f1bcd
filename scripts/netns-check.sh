#!/usr/bin/env bash
# Self-test of `scripts/janus netns` (needs root, janus, iproute2, python3; no pip packages):
# inside the namespace, 127.0.0.2 is on va, Janus answers `info` on $JANUS_URL, and a VideoRoom
# publisher can join a room (created with permanent: false, destroyed at the end).
#
#   scripts/netns-check.sh [start options]     e.g. --port 8190 --dir target/janus-netns-check
#
# Prints one line per check and exits 0 when all pass. Media itself (an answer with a 127.0.0.2
# candidate, webrtcup) needs a WebRTC stack: roomstorm's media tests cover it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 > /dev/null 2>&1 || { echo "netns-check: python3 is missing" >&2; exit 1; }

exec timeout 60 scripts/janus netns "$@" -- python3 -c '
import base64, json, os, random, socket, struct, subprocess, sys

addr = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "va"], capture_output=True, text=True).stdout
assert " 127.0.0.2/32 " in addr, "127.0.0.2 is not on va: " + addr
print("ok: va has 127.0.0.2/32; ROOMSTORM_MEDIA_IP=" + os.environ["ROOMSTORM_MEDIA_IP"])

url = os.environ["JANUS_URL"]  # ws://127.0.0.1:PORT
host, port = url[len("ws://"):].split(":")
s = socket.create_connection((host, int(port)), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET / HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: janus-protocol\r\n\r\n" % (host, port, key)).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
assert head.startswith(b"HTTP/1.1 101"), head

def exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        assert c, "connection closed"
        b += c
    return b

def send(msg):
    data = json.dumps(msg).encode()
    mask = os.urandom(4)
    n = len(data)
    hdr = struct.pack("!BB", 0x81, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x81, 0xFE, n)
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

def recv():  # next text frame (Janus sends unmasked, unfragmented frames)
    while True:
        b0, b1 = exact(2)
        n = b1 & 0x7F
        n = struct.unpack("!H", exact(2))[0] if n == 126 else struct.unpack("!Q", exact(8))[0] if n == 127 else n
        data = exact(n)
        if b0 & 0x0F == 1:
            return json.loads(data)

def call(msg):  # the reply with this transaction that is not an ack
    msg["transaction"] = tx = "%x" % random.getrandbits(48)
    send(msg)
    while True:
        m = recv()
        if m.get("transaction") == tx and m["janus"] != "ack":
            return m

m = call({"janus": "info"})
assert m["janus"] == "server_info", m
print("ok: %s answers info: %s %s" % (url, m["janus"], m["version_string"]))
sid = call({"janus": "create"})["data"]["id"]
hid = call({"janus": "attach", "session_id": sid, "plugin": "janus.plugin.videoroom"})["data"]["id"]
def vr(body):
    return call({"janus": "message", "session_id": sid, "handle_id": hid, "body": body})["plugindata"]["data"]
room = random.randint(1, 2**40)
d = vr({"request": "create", "room": room, "publishers": 1, "permanent": False, "secret": "check"})
assert d.get("videoroom") == "created", d
d = vr({"request": "join", "ptype": "publisher", "room": room, "id": 1, "display": "netns-check"})
assert d.get("videoroom") == "joined", d
print("ok: VideoRoom publisher joined room %d" % room)
vr({"request": "destroy", "room": room, "secret": "check", "permanent": False})
call({"janus": "destroy", "session_id": sid})
'
