"""A real rpyc 6.0.2 server: the Python partner of the Rust interop tests.

Usage: python interop_server.py --mode threaded|forking [--host 127.0.0.1] [--port 0]
                                [--service interop|classic] [--public-attrs]

Once the socket accepts connections it prints exactly one line, ``listening on HOST:PORT``,
to stdout; then it serves until SIGTERM or SIGINT, on which it exits 0 and leaves no forked
child behind. Port 0 picks a free port, so tests can run side by side.
"""

import argparse
import builtins
import os
import signal
import sys
import time

import rpyc


class InteropError(Exception):
    """The custom exception of ``raise_custom``; ``code`` is the caller's value."""

    def __init__(self, code):
        super().__init__(f"interop error {code}")
        self.code = code


class Point:
    """A plain user class (not a builtin), so it always travels as a reference."""

    def __init__(self, x, y):
        self.exposed_x = x
        self.exposed_y = y

    def exposed_norm2(self):
        """x*x + y*y."""
        return self.exposed_x ** 2 + self.exposed_y ** 2

    def _key(self):
        return (self.exposed_x, self.exposed_y)

    def __repr__(self):
        return f"Point({self.exposed_x}, {self.exposed_y})"

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, Point) and self._key() == other._key()

    def __lt__(self, other):
        return self._key() < other._key()

    def __hash__(self):
        return hash(self._key())


class InteropService(rpyc.Service):
    """Deterministic methods covering each kind of value and request of the protocol.

    ThreadedServer is given the class, so every connection gets its own instance.
    """

    _shared_point = Point(7, 8)

    def on_connect(self, conn):
        # rpyc.Service does not keep the connection; live_refs needs it.
        self._conn = conn

    def exposed_echo(self, x):
        """Returns x unchanged (by value when brine-simple, else the caller's own reference)."""
        return x

    def exposed_echo_args(self, *args, **kwargs):
        """Returns (args, kwargs as a tuple of (key, value) pairs sorted by key)."""
        return (args, tuple(sorted(kwargs.items())))

    def exposed_ping(self):
        """Returns "pong"."""
        return "pong"

    def exposed_add(self, a, b):
        """Returns a + b."""
        return a + b

    def exposed_get_point(self, x, y):
        """Returns a new Point(x, y) (a reference)."""
        return Point(x, y)

    def exposed_shared_point(self):
        """Returns the same Point(7, 8) instance on every call, for reference counting tests."""
        return self._shared_point

    def exposed_get_list(self, n):
        """Returns list(range(n)); lists travel as references."""
        return list(range(n))

    def exposed_get_dict(self):
        """Returns {"a": 1, "b": "two", "c": (3, 4)} (a reference)."""
        return {"a": 1, "b": "two", "c": (3, 4)}

    def exposed_get_nested(self):
        """Returns (1, [2, 3], "x"): a tuple by value holding a list by reference."""
        return (1, [2, 3], "x")

    def exposed_call_back(self, fn, x):
        """Calls the client's fn(x) and returns its result + 1."""
        return fn(x) + 1

    def exposed_call_back_kwargs(self, fn):
        """Returns the client's fn(1, k=2)."""
        return fn(1, k=2)

    def exposed_sum_iter(self, seq):
        """Iterates the client's object (``for v in seq``) and returns the sum."""
        total = 0
        for v in seq:
            total += v
        return total

    def exposed_length(self, seq):
        """Returns len(seq) of the client's object."""
        return len(seq)

    def exposed_nested(self, depth, callback):
        """0 when depth is 0, else callback(depth - 1) + 1 (nesting on the wire if the
        callback calls nested again)."""
        return 0 if depth == 0 else callback(depth - 1) + 1

    def exposed_raise_builtin(self, kind, message):
        """Raises the builtin exception named kind, e.g. ("ValueError", "bad")."""
        raise getattr(builtins, kind)(message)

    def exposed_raise_custom(self, code):
        """Raises InteropError with attribute code."""
        raise InteropError(code)

    def exposed_raise_stopiteration(self):
        """Raises StopIteration."""
        raise StopIteration

    def exposed_sleep(self, seconds):
        """Sleeps, then returns seconds."""
        time.sleep(seconds)
        return seconds

    def exposed_die(self):
        """Ends the serving process with exit code 3 before replying. On a threaded server
        that is the whole server: use a forking server or a server of the test's own."""
        os._exit(3)

    def exposed_live_refs(self):
        """Number of objects this connection currently holds for its peer (rpyc's local
        object table), so tests can check that DEL releases them. The service counts once
        (GETROOT handed it out), and so does the bound method live_refs itself when the
        peer reached it with GETATTR + CALL, as a Python client does (not with CALLATTR)."""
        return len(self._conn._local_objects._dict)

    def exposed_get_big(self):
        """Returns 2**100 (beyond 64 bits)."""
        return 2 ** 100

    def exposed_get_bytes(self, n):
        """Returns bytes(i % 256 for i in range(n))."""
        return bytes(i % 256 for i in range(n))


def child_pids():
    """Pids of this process's children, from /proc (rpyc's ForkingServer does not keep them)."""
    me, pids = os.getpid(), []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                # The command name may hold spaces and parentheses: ppid follows the last ")".
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me:
            pids.append(int(entry))
    return pids


def end_children(timeout=3.0):
    """SIGTERM every child, wait up to timeout, then SIGKILL what is left; reaps them all."""
    pids = child_pids()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while pids:
        for pid in list(pids):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            except ChildProcessError:
                pass  # already reaped
            pids.remove(pid)
        if pids and time.monotonic() > deadline:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.02)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["threaded", "forking"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--service", choices=["interop", "classic"], default="interop")
    parser.add_argument("--public-attrs", action="store_true",
                        help="set allow_public_attrs=True in protocol_config")
    args = parser.parse_args()

    service = {"interop": InteropService, "classic": rpyc.SlaveService}[args.service]
    config = {"allow_public_attrs": True} if args.public_attrs else {}
    server_class = {"threaded": rpyc.ThreadedServer, "forking": rpyc.ForkingServer}[args.mode]
    # The constructor binds; a taken port raises here and the process exits non-zero.
    server = server_class(service, hostname=args.host, port=args.port, protocol_config=config)

    main_pid = os.getpid()

    def stop(signum, frame):
        if os.getpid() != main_pid:
            os._exit(0)  # a forked connection child inherits this handler
        server.close()
        end_children()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # The constructor only binds; listen() happens in start(). Listen first, so that the
    # readiness line is true when printed (start() then skips its own _listen()).
    server._listen()
    print(f"listening on {args.host}:{server.port}", flush=True)
    server.start()


if __name__ == "__main__":
    main()
