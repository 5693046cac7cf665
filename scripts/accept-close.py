#!/usr/bin/env python3
"""A server's CPU to accept N silent connections, then to close them all at once.

    scripts/accept-close.py [--callgrind] [--rounds R] 'SERVER COMMAND with {port}' N [N ...]

The server command is run with `{port}` replaced by a free port on 127.0.0.1, e.g.

    scripts/accept-close.py 'target/release/examples/echo_server --port {port}' 8000
    scripts/accept-close.py 'target/release/kamaelia-torrent tracker --listen 127.0.0.1:{port}' 1000

For each N: a fresh server; a helper process opens N connections to it and sends nothing;
once the server holds them all (counted by its open file descriptors) the helper is killed,
so that the kernel closes every connection at once, and the server is watched until it has
let go of them. The server's CPU (user + system, from /proc/<pid>/stat, in clock ticks) is
read before, between and after. With --callgrind the server runs under valgrind's callgrind
(some fifty times slower) and the instructions it ran in each phase are counted as well, per
connection (user space only: its own and its libraries', not the kernel's).

The review of 2026-12-05 measured the same way with a script of its own against our tracker,
which now serves at most 1,000 connections at once (so N <= 1000 for it).
"""

import os
import shlex
import shutil
import select
import socket
import subprocess
import sys
import tempfile
import time

HOLD = r"""
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    socks.append(s)
print("ready", flush=True)
time.sleep(10**6)
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_for(test, what, limit=600):
    start = time.time()
    while not test():
        if time.time() - start > limit:
            sys.exit(f"accept-close: gave up waiting for {what}")
        time.sleep(0.02)


class Instructions:
    """Counts of instructions from a server run under `valgrind --tool=callgrind`: each
    `lap` dumps (and zeroes) its counters and returns the count since the last lap."""

    def __init__(self, pid, out):
        self.pid, self.out, self.seen = pid, out, set()
        self.lap()

    def lap(self):
        subprocess.run(
            ["callgrind_control", "-d", str(self.pid)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        total = 0
        for name in sorted(os.listdir(self.out)):
            path = os.path.join(self.out, name)
            if path in self.seen or not name.startswith("callgrind.out"):
                continue
            self.seen.add(path)
            for line in open(path):
                if line.startswith("summary:") or line.startswith("totals:"):
                    total += int(line.split()[1])
                    break
        return total


def round_for(command, n, callgrind):
    port = free_port()
    argv = shlex.split(command.replace("{port}", str(port)))
    if callgrind:
        out = tempfile.mkdtemp(prefix="accept-close.")
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.out.%p"] + argv
    server = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    hold = None
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.3)
        base = nfds(server.pid)
        counter = Instructions(server.pid, out) if callgrind else None
        c0 = cpu(server.pid)
        hold = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(port), str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        # The helper's connects could stall: wait for its word at most as long as wait_for.
        ready, _, _ = select.select([hold.stdout], [], [], 600)
        if not ready or hold.stdout.readline().strip() != "ready":
            sys.exit("accept-close: the helper could not open its connections")
        wait_for(lambda: nfds(server.pid) >= base + n, "the server to accept")
        c1 = cpu(server.pid)
        i1 = counter.lap() if counter else None
        c2 = cpu(server.pid)
        hold.kill()
        hold.wait()
        wait_for(lambda: nfds(server.pid) <= base, "the server to close")
        c3 = cpu(server.pid)
        i2 = counter.lap() if counter else None
        line = f"N={n}: accept cpu {c1 - c0:.2f}s, close cpu {c3 - c2:.2f}s"
        if callgrind:
            line += f", accept {i1 / n:,.0f} instr/conn, close {i2 / n:,.0f} instr/conn"
        print(line, flush=True)
    finally:
        # Also on the way out of an error: the helper holds N sockets and would sleep on.
        if hold is not None:
            hold.kill()
            hold.wait()
        server.kill()
        server.wait()
        if callgrind:
            shutil.rmtree(out, ignore_errors=True)


def main():
    args = sys.argv[1:]
    callgrind = "--callgrind" in args
    args = [a for a in args if a != "--callgrind"]
    rounds = 1
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i : i + 2]
    if len(args) < 2:
        sys.exit(__doc__)
    command, ns = args[0], [int(a) for a in args[1:]]
    for _ in range(rounds):
        for n in ns:
            round_for(command, n, callgrind)


if __name__ == "__main__":
    main()
