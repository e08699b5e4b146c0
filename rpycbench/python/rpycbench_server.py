"""rpycbench's launcher of a Python rpyc server: the process the rpycbench binary runs.

Usage::

    python rpycbench_server.py --mode threaded|forking [--host 127.0.0.1] [--port 0]
                               [--service MODULE:CLASS] [--path DIR]...
                               [--max-connections N] [--payload KIND]

``--service`` defaults to ``rpycbench_service:BenchmarkService``, the built-in benchmark
service, which sits next to this file. Each ``--path DIR`` is put at the front of
``sys.path`` (in the order given) so that a user's service module can be imported. Port 0
picks a free port.

Once the socket listens, the launcher prints exactly one line, ``listening on HOST:PORT``,
to stdout (flushed); then it serves until SIGTERM or SIGINT, on which it exits 0, leaving
no forked child behind.

``--max-connections N`` caps the connections served at once (threads of the threaded
server, live children of the forking server). A connection beyond the cap is accepted,
then shut down and closed at once, so its client sees end-of-file on its first request.
It is implemented in ``_accept_method``, the hook rpyc's ``Server.accept()`` calls with
each accepted socket (``ThreadedServer`` spawns a thread there, ``ForkingServer`` forks).

``--payload incompressible|text|zeros`` sets what the built-in service's downloads are
made of (``rpycbench_service.PAYLOAD``; default incompressible); it applies to the
built-in service only.

Failures go to stderr with a non-zero exit code:

* 2: bad command line (argparse);
* 3: the interpreter has no rpyc module;
* 4: the server cannot listen on HOST:PORT (e.g. address already in use);
* 5: the service cannot be imported, or is not an ``rpyc.Service`` subclass.

A version of rpyc other than 6.0.2 only prints a warning. Python 3.8+, standard library
and rpyc only.
"""

import argparse
import errno
import importlib
import os
import signal
import socket
import sys
import threading
import time

EXPECTED_RPYC_VERSION = "6.0.2"
DEFAULT_SERVICE = "rpycbench_service:BenchmarkService"

EXIT_NO_RPYC = 3
EXIT_CANNOT_LISTEN = 4
EXIT_BAD_SERVICE = 5


def fail(message, code):
    """Prints ``rpycbench: message`` to stderr and exits with code."""
    print(f"rpycbench: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def import_rpyc():
    """Imports rpyc (exit 3 when missing) and warns when its version is not 6.0.2."""
    try:
        import rpyc
    except ImportError:
        exe = sys.executable or "python"
        fail(f"the Python interpreter {exe} has no rpyc module: "
             f"install it with '{exe} -m pip install rpyc=={EXPECTED_RPYC_VERSION}'",
             EXIT_NO_RPYC)
    version = getattr(rpyc, "__version__", "unknown")
    if version != EXPECTED_RPYC_VERSION:
        print(f"rpycbench: warning: rpyc {version} found, rpycbench speaks rpyc "
              f"{EXPECTED_RPYC_VERSION}; results may differ", file=sys.stderr, flush=True)
    return rpyc


def load_service(spec, rpyc):
    """Imports the ``MODULE:CLASS`` service class; exits 5 on any failure."""
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        fail(f"bad service {spec!r}: expected MODULE:CLASS", EXIT_BAD_SERVICE)
    try:
        module = importlib.import_module(module_name)
    except BaseException as e:  # SyntaxError, SystemExit of a module's top level, ...
        fail(f"cannot import service {spec}: {type(e).__name__}: {e}", EXIT_BAD_SERVICE)
    try:
        service = getattr(module, class_name)
    except AttributeError:
        fail(f"cannot import service {spec}: module {module_name!r} "
             f"({getattr(module, '__file__', None)}) has no attribute {class_name!r}",
             EXIT_BAD_SERVICE)
    if not (isinstance(service, type) and issubclass(service, rpyc.Service)):
        what = f"the class {service.__module__}.{service.__qualname__}" \
            if isinstance(service, type) else f"a {type(service).__name__} object"
        fail(f"bad service {spec}: {what} is not a subclass of rpyc.Service",
             EXIT_BAD_SERVICE)
    return service


def refuse(server, sock):
    """Shuts down and closes an accepted socket beyond the connection cap."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
    server.clients.discard(sock)
    server.logger.info("connection refused: max_connections reached")


def make_server_class(rpyc, mode):
    """The server class for mode: rpyc's ThreadedServer or ForkingServer, with a
    ``max_connections`` cap (None: no cap) enforced in ``_accept_method``."""

    class CappedThreadedServer(rpyc.ThreadedServer):
        """ThreadedServer counting its connection threads."""

        max_connections = None

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._active = 0
            self._active_lock = threading.Lock()

        def _accept_method(self, sock):
            # Counted here, in the accepting thread, so back-to-back accepts see it.
            with self._active_lock:
                if self.max_connections is not None and self._active >= self.max_connections:
                    full = True
                else:
                    full = False
                    self._active += 1
            if full:
                refuse(self, sock)
                return
            try:
                rpyc.spawn(self._serve_counted, sock)
            except BaseException:
                with self._active_lock:
                    self._active -= 1
                raise

        def _serve_counted(self, sock):
            try:
                self._authenticate_and_serve_client(sock)
            finally:
                with self._active_lock:
                    self._active -= 1

    class CappedForkingServer(rpyc.ForkingServer):
        """ForkingServer keeping its children's pids (rpyc's forgets them), to count the
        live ones. ``_accept_method`` is rpyc 6.0.2's with the pid kept."""

        max_connections = None

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._children = set()

        def _live_children(self):
            # rpyc's SIGCHLD handler reaps with waitpid(-1): a pid it took is no longer
            # our child (ChildProcessError); one it has not taken yet is reaped here.
            for pid in list(self._children):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == 0:
                        continue  # still running
                except ChildProcessError:
                    pass
                self._children.discard(pid)
            return len(self._children)

        def _accept_method(self, sock):
            if self.max_connections is not None and \
                    self._live_children() >= self.max_connections:
                refuse(self, sock)
                return
            server_pid = os.getpid()
            pid = os.fork()
            if pid == 0:
                # child (as rpyc's ForkingServer._accept_method)
                try:
                    die_with_parent(server_pid)
                    signal.signal(signal.SIGCHLD, self._prevhandler)
                    signal.siginterrupt(signal.SIGCHLD, False)
                    self.listener.close()
                    self.clients.clear()
                    self._authenticate_and_serve_client(sock)
                except Exception:
                    self.logger.exception("child process terminated abnormally")
                finally:
                    os._exit(0)
            else:
                self._children.add(pid)
                sock.close()
                self.clients.discard(sock)

    return {"threaded": CappedThreadedServer, "forking": CappedForkingServer}[mode]


def load_prctl():
    """libc's prctl, or None where there is none (not Linux). Loaded once, in the server,
    so a forked child pays only the call: importing ctypes there would add milliseconds
    to every connection the benchmarks time."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None


PRCTL = None  # set by main()


def die_with_parent(parent):
    """Asks Linux to SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG),
    so a connection's child never outlives a killed server (SIGKILL: a stopped child
    would hold a SIGTERM until continued); exits at once when the parent is already
    gone."""
    if PRCTL is not None:
        PR_SET_PDEATHSIG = 1
        PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


def child_pids():
    """Pids of this process's children, from /proc (rpyc's ForkingServer does not keep
    them, and this also finds any child a service may have started)."""
    me, pids = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
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
                pass  # already reaped (e.g. by rpyc's SIGCHLD handler)
            pids.remove(pid)
        if pids and time.monotonic() > deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = float("inf")
        time.sleep(0.02)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="rpycbench_server.py",
        description="Serve an rpyc service for rpycbench; prints 'listening on HOST:PORT'.")
    parser.add_argument("--mode", choices=["threaded", "forking"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--service", default=DEFAULT_SERVICE, metavar="MODULE:CLASS",
                        help=f"the rpyc.Service subclass to serve (default {DEFAULT_SERVICE})")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="a directory to put in front of sys.path (repeatable)")
    parser.add_argument("--max-connections", type=int, default=None, metavar="N",
                        help="serve at most N connections at once; close further ones at once")
    parser.add_argument("--payload", choices=["incompressible", "text", "zeros"],
                        default="incompressible",
                        help="what the built-in service's downloads are made of")
    args = parser.parse_args(argv)
    if args.payload != "incompressible" and args.service != DEFAULT_SERVICE:
        parser.error(f"--payload {args.payload} applies to the built-in service, not to {args.service}")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: expected 0..65535")
    if args.max_connections is not None and args.max_connections < 1:
        parser.error(f"--max-connections {args.max_connections}: expected at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    rpyc = import_rpyc()
    sys.path[:0] = [os.path.abspath(p) for p in args.path]
    service = load_service(args.service, rpyc)
    if args.payload != "incompressible":
        # The built-in service's module, imported by load_service: forked children
        # inherit the setting.
        sys.modules["rpycbench_service"].PAYLOAD = args.payload

    where = f"{args.host}:{args.port}"
    server_class = make_server_class(rpyc, args.mode)
    try:
        # The constructor binds; listen() normally happens in start(). Listen here, so that
        # the readiness line is true when printed (start() then skips its own _listen()).
        server = server_class(service, hostname=args.host, port=args.port)
        server._listen()
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            reason = "address already in use"
        else:
            reason = e.strerror or str(e)
        fail(f"cannot listen on {where}: {reason}", EXIT_CANNOT_LISTEN)
    server.max_connections = args.max_connections

    global PRCTL
    PRCTL = load_prctl()
    main_pid = os.getpid()

    def stop(signum, frame):
        if os.getpid() != main_pid:
            os._exit(0)  # a forked connection child inherits this handler
        server.close()
        end_children()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    print(f"listening on {args.host}:{server.port}", flush=True)
    server.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
