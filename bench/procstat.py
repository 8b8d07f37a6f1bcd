#!/usr/bin/env python3
"""/proc readings for the bench scripts (Linux only): RSS and CPU of a process and its children.

  procstat.py cpu PID                  user + system clock ticks of PID and its living descendants
  procstat.py sample RUN_PID PID OUT   every 0.5 s until RUN_PID ends, one line to OUT: seconds
                                       since the start, RSS (KiB) of RUN_PID's tree, of PID's tree,
                                       and CPU clock ticks of PID's tree so far
"""
import os
import sys
import time


def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def rss(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def ticks(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().split(") ")[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return not f.read().split(") ")[1].startswith("Z")
    except OSError:
        return False


if __name__ == "__main__":
    if sys.argv[1] == "cpu":
        print(ticks(int(sys.argv[2])))
    elif sys.argv[1] == "sample":
        run_pid, other, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        t0 = time.monotonic()
        with open(out, "w") as f:
            while running(run_pid):
                f.write(
                    f"{time.monotonic() - t0:.2f} {rss(tree(run_pid))} {rss(tree(other))} {ticks(other)}\n"
                )
                f.flush()
                time.sleep(0.5)
    else:
        sys.exit(__doc__)
