"""Behaviour checks of an rpycbench benchmark service, as a real rpyc client sees it.

Usage: python bench_client_checks.py HOST PORT

Connects with ``rpyc.connect(HOST, PORT)`` and checks every method of the benchmark
service contract (documented in rpycbench/python/rpycbench_service.py): values, types,
by-value vs by-reference results, callbacks, nesting, exceptions, async requests and
closing. It relies on that contract and rpyc's public API only, so it serves both the
Python-backed server and the native Rust one.

Every check runs even when an earlier one failed. Prints
``bench_client_checks: all N checks passed`` and exits 0 on success; otherwise prints each
failed check with its exception and exits 1 (2 on bad usage or when it cannot connect).
"""

import hashlib
import sys
import time
import traceback

import rpyc

# The download content, built here from its definition (SHA-256 in counter mode,
# 64 KiB) rather than imported from the service it checks.
BLOCK = b"".join(hashlib.sha256(b"rpycbench payload" + i.to_bytes(4, "big")).digest() for i in range(2048))
USER_FIELDS = ("id", "name", "email", "status")


class CheckFailed(Exception):
    """A check's expectation was not met."""


def expect(condition, what):
    """Like assert, but not stripped by ``python -O``."""
    if not condition:
        raise CheckFailed(what)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def expect_type(value, cls, what):
    if type(value) is not cls:
        raise CheckFailed(f"{what}: expected a {cls.__name__}, got {type(value)!r}")


def expect_raises(exc_class, fn, what):
    """Calls fn(); it must raise exc_class. Returns the exception."""
    try:
        result = fn()
    except exc_class as e:
        return e
    except Exception as e:
        raise CheckFailed(f"{what}: expected {exc_class.__name__}, got "
                          f"{type(e).__name__}: {e}") from e
    raise CheckFailed(f"{what}: expected {exc_class.__name__}, got the value {result!r}")


def is_netref(value):
    return isinstance(value, rpyc.BaseNetref)


def pattern(size):
    return (BLOCK * (size // len(BLOCK) + 1))[:size]


def chunks_of(size, chunk_size):
    data = pattern(size)
    return [data[i:i + chunk_size] for i in range(0, size, chunk_size)]


def sha_chain(iterations):
    d = b"start"
    for _ in range(iterations):
        d = hashlib.sha256(d).digest()
    return d.hex()[:16]


def user_tuple(i):
    return (i, f"user{i}", f"user{i}@example.com", "active")


# --- the checks: each takes the connection --------------------------------------------

def check_ping(conn):
    result = conn.root.ping()
    expect_type(result, str, "ping()")
    expect_eq(result, "pong", "ping()")


def check_exposed_ping(conn):
    expect_eq(getattr(conn.root, "exposed_ping")(), "pong", "exposed_ping()")


def check_echo_values(conn):
    values = [None, True, False, 0, -1, 42, 2 ** 100, -(2 ** 70), 1.5, 2j, "", "héllo",
              b"", b"\x00\xff" * 10, (), (1, ("a", b"b"), None), frozenset({1, 2})]
    for v in values:
        got = conn.root.echo(v)
        expect_eq(got, v, f"echo({v!r})")
        expect_type(got, type(v), f"echo({v!r})")


def check_echo_reference(conn):
    mine = [1, 2, 3]
    got = conn.root.echo(mine)
    expect(got is mine, f"echo(list) should give back the client's own list, got {got!r}")
    fn = lambda: 1  # noqa: E731
    expect(conn.root.echo(fn) is fn, "echo(function) should give back the same function")


def check_upload(conn):
    expect_eq(conn.root.upload(b""), 0, "upload(b'')")
    expect_eq(conn.root.upload(b"x" * 1000), 1000, "upload(1000 bytes)")
    expect_eq(conn.root.upload(pattern(1 << 20)), 1 << 20, "upload(1 MiB)")


def check_download(conn):
    for size in (0, 1, 255, 256, 257, 1000, 3 * 256 + 5, 1 << 20):
        got = conn.root.download(size)
        expect_type(got, bytes, f"download({size})")
        expect_eq(len(got), size, f"len(download({size}))")
        expect(got == pattern(size), f"download({size}): wrong content")


def check_upload_chunked(conn):
    expect_eq(conn.root.upload_chunked([b"ab", b"cde", b""]), 5, "upload_chunked(list)")
    expect_eq(conn.root.upload_chunked([]), 0, "upload_chunked([])")
    expect_eq(conn.root.upload_chunked((b"abc", b"d")), 4, "upload_chunked(tuple)")
    chunks = [pattern(1000)] * 10
    expect_eq(conn.root.upload_chunked(chunks), 10000, "upload_chunked(10 x 1000 bytes)")


def check_download_chunked(conn):
    for size, chunk_size in ((1000, 300), (1000, 1000), (1000, 2000), (1024, 256), (0, 10)):
        got = conn.root.download_chunked(size, chunk_size)
        what = f"download_chunked({size}, {chunk_size})"
        expect(is_netref(got), f"{what}: expected a reference (list), got {type(got)!r}")
        expected = chunks_of(size, chunk_size)
        expect_eq(len(got), len(expected), f"len({what})")
        items = [c for c in got]
        for c in items:
            expect_type(c, bytes, f"{what} item")
        expect(items == expected, f"{what}: wrong chunks")
        if expected:
            expect(got[-1] == expected[-1], f"{what}[-1]: wrong last chunk")


def check_download_chunked_tuple(conn):
    for size, chunk_size in ((1000, 300), (512, 256), (0, 10)):
        got = conn.root.download_chunked_tuple(size, chunk_size)
        what = f"download_chunked_tuple({size}, {chunk_size})"
        expect_type(got, tuple, what)
        expect(got == tuple(chunks_of(size, chunk_size)), f"{what}: wrong chunks")


def check_cpu_work(conn):
    expect_eq(conn.root.cpu_work(1000), sha_chain(1000), "cpu_work(1000)")
    expect_eq(conn.root.cpu_work(1), sha_chain(1), "cpu_work(1)")
    expect_eq(conn.root.cpu_work(0), "7374617274", "cpu_work(0)")
    got = conn.root.cpu_work()
    expect_type(got, str, "cpu_work()")
    expect_eq(got, sha_chain(100000), "cpu_work() (default 100000 iterations)")


def check_io_work(conn):
    start = time.monotonic()
    expect_eq(conn.root.io_work(0.05), "data", "io_work(0.05)")
    elapsed = time.monotonic() - start
    expect(elapsed >= 0.045, f"io_work(0.05) returned after {elapsed:.3f} s")
    expect_eq(conn.root.io_work(0), "data", "io_work(0)")
    expect_eq(conn.root.io_work(), "data", "io_work()")


def check_io_work_async(conn):
    # The bound method is fetched before the clock starts (a round trip of its own), and
    # the call waits 1 s: sending it must take far less, even on a loaded machine.
    io_work = rpyc.async_(conn.root.io_work)
    start = time.monotonic()
    res = io_work(1.0)
    expect(time.monotonic() - start < 0.5, "async_(io_work) should not wait for the reply")
    expect_eq(res.value, "data", "async_(io_work)(1.0).value")
    expect(res.ready, "async result should be ready after .value")
    expect(not res.error, "async result should not be an error")


def check_user_attrs(user, i, what):
    expect(is_netref(user), f"{what}: expected a reference, got {type(user)!r}")
    expect_eq(user.id, i, f"{what}.id")
    expect_eq(user.name, f"user{i}", f"{what}.name")
    expect_eq(user.email, f"user{i}@example.com", f"{what}.email")
    expect_eq(user.status, "active", f"{what}.status")


def check_get_user(conn):
    user = conn.root.get_user(7)
    check_user_attrs(user, 7, "get_user(7)")
    expect_eq(repr(user), "User(7)", "repr(get_user(7))")
    expect_raises(AttributeError, lambda: user.no_such_attribute, "get_user(7).no_such_attribute")


def check_get_users(conn):
    users = conn.root.get_users(3)
    expect(is_netref(users), f"get_users(3): expected a reference, got {type(users)!r}")
    expect_eq(len(users), 3, "len(get_users(3))")
    seen = []
    for i, user in enumerate(users):
        check_user_attrs(user, i, f"get_users(3)[{i}]")
        seen.append(user.id)
    expect_eq(seen, [0, 1, 2], "ids of get_users(3)")
    expect_eq(len(conn.root.get_users(0)), 0, "len(get_users(0))")


def check_get_user_dict(conn):
    d = conn.root.get_user_dict(3)
    expect(is_netref(d), f"get_user_dict(3): expected a reference, got {type(d)!r}")
    expected = dict(zip(USER_FIELDS, user_tuple(3)))
    for key, value in expected.items():
        expect_eq(d[key], value, f"get_user_dict(3)[{key!r}]")
    expect_eq(len(d), 4, "len(get_user_dict(3))")
    expect_eq(sorted(k for k in d), sorted(USER_FIELDS), "keys of get_user_dict(3)")
    expect_raises(KeyError, lambda: d["nope"], "get_user_dict(3)['nope']")


def check_get_user_tuple(conn):
    got = conn.root.get_user_tuple(4)
    expect_type(got, tuple, "get_user_tuple(4)")
    expect_eq(got, user_tuple(4), "get_user_tuple(4)")


def check_get_users_batch(conn):
    expected = (user_tuple(1), user_tuple(2), user_tuple(5))
    got = conn.root.get_users_batch((1, 2, 5))
    expect_type(got, tuple, "get_users_batch(tuple)")
    expect_eq(got, expected, "get_users_batch((1, 2, 5))")
    got = conn.root.get_users_batch([1, 2, 5])  # a client list, iterated remotely
    expect_type(got, tuple, "get_users_batch(list)")
    expect_eq(got, expected, "get_users_batch([1, 2, 5])")
    expect_eq(conn.root.get_users_batch(()), (), "get_users_batch(())")


def check_nested(conn):
    calls = []

    def callback(depth):
        calls.append(depth)
        return conn.root.nested(depth, callback)

    expect_eq(conn.root.nested(0, callback), 0, "nested(0, cb)")
    expect_eq(calls, [], "nested(0, cb) should not call cb")
    expect_eq(conn.root.nested(5, callback), 5, "nested(5, cb)")
    expect_eq(calls, [4, 3, 2, 1, 0], "depths the callback was called with")
    expect_eq(conn.root.nested(3, lambda d: 10), 11, "nested(3, lambda d: 10)")


def check_raise_error(conn):
    for exc_class, kind in ((KeyError, "KeyError"), (ValueError, "ValueError"),
                            (ZeroDivisionError, "ZeroDivisionError")):
        e = expect_raises(exc_class, lambda: conn.root.raise_error(kind, "k"),
                          f"raise_error({kind!r}, 'k')")
        expect_eq(e.args[:1], ("k",), f"args of raise_error({kind!r}, 'k')")
    conn.root.ping()  # the connection survives remote exceptions


def check_raise_error_unknown(conn):
    e = expect_raises(ValueError, lambda: conn.root.raise_error("NoSuchError", "m"),
                      "raise_error('NoSuchError', 'm')")
    expect_eq(e.args[:1], ("unknown exception kind: NoSuchError",),
              "args of raise_error('NoSuchError', 'm')")
    e = expect_raises(ValueError, lambda: conn.root.raise_error("print", "m"),
                      "raise_error('print', 'm')")
    expect_eq(e.args[:1], ("unknown exception kind: print",), "args of raise_error('print')")
    for kind in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        e = expect_raises(ValueError, lambda: conn.root.raise_error(kind, "m"),
                          f"raise_error({kind!r}, 'm')")
        expect_eq(e.args[:1], (f"refused exception kind: {kind}",),
                  f"args of raise_error({kind!r})")
    expect_eq(conn.root.ping(), "pong", "ping() after refused exception kinds")


def check_argument_errors(conn):
    for what, fn in (("download(-1)", lambda: conn.root.download(-1)),
                     ("download_chunked(10, 0)", lambda: conn.root.download_chunked(10, 0)),
                     ("cpu_work(-1)", lambda: conn.root.cpu_work(-1)),
                     ("io_work(-1)", lambda: conn.root.io_work(-1)),
                     ("get_users(-1)", lambda: conn.root.get_users(-1))):
        expect_raises(ValueError, fn, what)


def check_conn_ping(conn):
    conn.ping()  # rpyc's protocol-level ping (HANDLE_PING); raises on a bad echo


CHECKS = [
    check_ping, check_exposed_ping, check_echo_values, check_echo_reference, check_upload,
    check_download, check_upload_chunked, check_download_chunked,
    check_download_chunked_tuple, check_cpu_work, check_io_work, check_io_work_async,
    check_get_user, check_get_users, check_get_user_dict, check_get_user_tuple,
    check_get_users_batch, check_nested, check_raise_error, check_raise_error_unknown,
    check_argument_errors, check_conn_ping,
]


def check_close(conn):
    start = time.monotonic()
    conn.close()
    elapsed = time.monotonic() - start
    expect(elapsed < 1.0, f"conn.close() took {elapsed:.3f} s")
    expect(conn.closed, "conn.closed should be True after close()")


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} HOST PORT", file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])
    try:
        conn = rpyc.connect(host, port)
    except Exception as e:
        print(f"bench_client_checks: cannot connect to {host}:{port}: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2

    failed = []
    for check in CHECKS + [check_close]:
        name = check.__name__[len("check_"):]
        try:
            check(conn)
        except Exception as e:
            failed.append(name)
            print(f"bench_client_checks: check {name} FAILED: {type(e).__name__}: {e}",
                  file=sys.stderr)
            if not isinstance(e, CheckFailed):
                traceback.print_exc(file=sys.stderr)
    if not conn.closed:
        conn.close()

    total = len(CHECKS) + 1
    if failed:
        print(f"bench_client_checks: {len(failed)} of {total} checks failed: "
              f"{', '.join(failed)}")
        return 1
    print(f"bench_client_checks: all {total} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
