"""Serves a service class on 127.0.0.1, an ephemeral port, with a plain rpyc 6.0.2
ThreadedServer (or ForkingServer), and prints "listening on 127.0.0.1:PORT" once it accepts.

Each service of the corpus has one planted cause. A default rpyc server also stalls on
delayed ACKs (no TCP_NODELAY: a reply followed by a DEL, or a reply over 64 000 bytes,
waits for the peer's delayed ACK), which would be a second cause; so every service sets
TCP_NODELAY on its connections, the fix the diagnosis gives, except the one whose
planted cause is that stall (`serve(..., nodelay=False)`).
"""
import socket

from rpyc.utils.server import ForkingServer, ThreadedServer


def serve(service, nodelay=True, forking=False):
    if nodelay:
        class NoDelay(service):
            def on_connect(self, conn):
                conn._channel.stream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().on_connect(conn)

        NoDelay.__name__ = service.__name__
        service = NoDelay
    server = (ForkingServer if forking else ThreadedServer)(service, hostname="127.0.0.1", port=0)
    # rpyc binds in the constructor but listens only in start(): listen first (start()
    # then does not again), so that the address printed already accepts.
    server._listen()
    print(f"listening on 127.0.0.1:{server.port}", flush=True)
    server.start()
