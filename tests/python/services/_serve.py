"""Serves a service class on 127.0.0.1, an ephemeral port, with a plain rpyc 6.0.2
ThreadedServer, and prints "listening on 127.0.0.1:PORT" once it accepts."""
from rpyc.utils.server import ThreadedServer


def serve(service):
    server = ThreadedServer(service, hostname="127.0.0.1", port=0)
    print(f"listening on 127.0.0.1:{server.port}", flush=True)
    server.start()
