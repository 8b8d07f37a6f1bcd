"""Drives the official Qiniu Python SDK (PyPI `qiniu`) against roomstorm's reference server.

Usage:
  qiniu_sdk.py mint AK SK APP ROOM USER...        print one room token per user (SDK's spaced JSON)
  qiniu_sdk.py manage AK SK HOST APP ROOM KICK    list users, kick KICK, list rooms, create/get app
The secret key arrives on the command line of a test-only process and is never printed.
"""
import json
import sys
import time

import qiniu
from qiniu.services.pili.rtc_server_manager import RtcServer, get_room_token


def mint(ak, sk, app, room, users):
    for user in users:
        access = {"appId": app, "roomName": room, "userId": user,
                  "expireAt": int(time.time()) + 3600, "permission": "user"}
        print(get_room_token(ak, sk, access))


def info(resp):
    ret, inf = resp
    return {"ret": ret, "status": inf.status_code, "reqid": inf.req_id}


def manage(ak, sk, host, app, room, kick):
    server = RtcServer(qiniu.QiniuMacAuth(ak, sk))
    server.host = host
    out = {
        "users_before": info(server.list_user(app, room)),
        "kick": info(server.kick_user(app, room, kick)),
        "users_after": info(server.list_user(app, room)),
        "rooms": info(server.list_active_rooms(app)),
        "rooms_prefix": info(server.list_active_rooms(app, room[:3])),
        "create": info(server.create_app({"hub": "sdk-hub", "title": "sdk", "maxUsers": 3, "noAutoKickUser": True})),
        "forged": info(_forged(ak, sk, host, app, room)),
    }
    created = out["create"]["ret"] or {}
    out["get"] = info(server.get_app(created.get("appId", "none")))
    print(json.dumps(out))


def _forged(ak, sk, host, app, room):
    forged = RtcServer(qiniu.QiniuMacAuth(ak, "forged-secret"))
    forged.host = host
    return forged.list_user(app, room)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "mint":
        mint(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
    elif cmd == "manage":
        manage(*sys.argv[2:8])
    else:
        sys.exit("unknown command " + cmd)
