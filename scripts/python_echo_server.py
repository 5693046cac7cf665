#!/usr/bin/env python3
"""Kamaelia's ServerCore echo server (PassThrough protocol), the Python side of
scripts/bench-echo.sh.

    python3 scripts/python_echo_server.py [PORT]     # default 1601; 0 = any free port

Listens on 127.0.0.1 only and prints "listening on 127.0.0.1:<port> pid <pid>" once bound
(the pid is Python's own, which a launcher such as pyenv's shim may hide).
Needs the Python Kamaelia: pip install kamaelia-axon==1.14.32 kamaelia==1.14.32
"""
import os
import sys

from Kamaelia.Chassis.ConnectedServer import ServerCore
from Kamaelia.Internet.TCPServer import TCPServer
from Kamaelia.Util.PassThrough import PassThrough


class LoopbackTCPServer(TCPServer):
    """Kamaelia's TCPServer, bound to 127.0.0.1 (not every address), with the listen backlog
    our server uses (Kamaelia's is 5), and telling the port it got."""

    def makeTCPServerPort(self, suppliedport=None, HOST=None, minrange=2000, maxrange=50000,
                          maxlisten=5):
        s, port = TCPServer.makeTCPServerPort(self, suppliedport, "127.0.0.1", minrange,
                                              maxrange, 1024)
        if s is not None:
            print("listening on 127.0.0.1:%d pid %d" % (s.getsockname()[1], os.getpid()),
                  flush=True)
        return s, port


port = int(sys.argv[1]) if len(sys.argv) > 1 else 1601
ServerCore(protocol=lambda **connection: PassThrough(), port=port, TCPS=LoopbackTCPServer).run()
