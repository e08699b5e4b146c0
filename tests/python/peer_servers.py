"""Python rpyc servers that users point `rpycbench bench` at, beyond the built-in service.

Usage: python peer_servers.py oneshot|flaky|threaded

* ``oneshot``: rpyc's ``OneShotServer`` (one connection, then it exits) serving an echo
  service, as in rpyc's own echo demo.
* ``flaky``: a ``ThreadedServer`` whose ``lookup`` raises ``LookupError`` on its first
  call and every fourth after it (any 4k consecutive calls hold exactly k failures), and
  whose ``ping`` works.
* ``threaded``: a plain ``ThreadedServer`` with ``ping`` (run with any rpyc version, e.g.
  rpyc 5, to be an older peer).

Each prints exactly one line ``listening on 127.0.0.1:PORT`` once it accepts, then serves
until it is killed (the one-shot server also ends after its connection).
"""

import itertools
import sys
import threading

import rpyc
from rpyc.utils.server import OneShotServer, ThreadedServer


class EchoService(rpyc.Service):
    def exposed_echo(self, text):
        return text

    def exposed_ping(self):
        return "pong"


class FlakyService(rpyc.Service):
    _calls = itertools.count()
    _lock = threading.Lock()

    def exposed_lookup(self, key):
        with self._lock:
            n = next(self._calls)
        if n % 4 == 0:
            raise LookupError(f"backend did not answer for {key!r}")
        return f"value of {key!r}"

    def exposed_ping(self):
        return "pong"


def main(kind):
    server_class, service = {
        "oneshot": (OneShotServer, EchoService),
        "flaky": (ThreadedServer, FlakyService),
        "threaded": (ThreadedServer, EchoService),
    }[kind]
    server = server_class(service, hostname="127.0.0.1", port=0)
    # rpyc listens in start(): listen first, so the readiness line is true when printed
    # (start() then skips its own _listen(); the same in rpyc 5 and 6).
    server._listen()
    print(f"listening on 127.0.0.1:{server.port}", flush=True)
    server.start()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("oneshot", "flaky", "threaded"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
