"""The built-in rpycbench benchmark service (module ``rpycbench_service``).

``BenchmarkService`` is what ``rpycbench`` serves when no ``--service`` is given. The Rust
crate carries a native implementation of the same service, so this docstring is the
*contract* both must follow exactly. Names below are what a client calls; on the class each
method carries rpyc's ``exposed_`` prefix, and nothing else is exposed.

Values travel as rpyc always makes them travel: brine-simple values (None, bool, int,
float, complex, str, bytes, and tuples/frozensets of those) by value, anything else
(list, dict, class instances, functions, ...) as a reference (a netref) the client reaches
with further requests. "Must not be negative" below means: ``ValueError("<name> must not
be negative")``, raised before any work is done. Arguments of the wrong type are outside
the contract (Python raises whatever ``TypeError`` the operation raises).

``ping()``
    Returns ``"pong"``.

``echo(x)``
    Returns ``x`` unchanged: a by-value argument comes back as an equal value, a
    reference comes back as that same reference (so a Python client gets its own object
    back, ``echo(obj) is obj``).

``upload(data)``
    Returns ``len(data)``.

``download(size)``
    Returns ``size`` bytes (by value): the 64 KiB block ``BLOCKS[PAYLOAD]`` repeated and
    cut to ``size``. ``PAYLOAD`` is set by the launcher's ``--payload`` and is
    ``"incompressible"`` unless told otherwise: ``BLOCK``, SHA-256 in counter mode, so
    that rpyc's zlib compression of large frames cannot turn a transfer benchmark into a
    zlib benchmark. ``"text"`` is English-like lines (zlib level 1 shrinks them about
    threefold), ``"zeros"`` zero bytes. ``size`` must not be negative.
    ``download(0) == b""``.

``upload_chunked(chunks)``
    Iterates ``chunks`` (``for c in chunks: total += len(c)``) and returns ``total``. When
    ``chunks`` is a client's list, every step of the iteration (``__iter__``, each
    ``__next__``, each ``len``) is a request back to the client.

``download_chunked(size, chunk_size)``
    Returns a **list** (so a reference) of the ``download(size)`` content split every
    ``chunk_size`` bytes: ``[data[i:i + chunk_size] for i in range(0, size, chunk_size)]``.
    The last chunk may be shorter; ``size == 0`` gives ``[]``. ``size`` must not be
    negative; ``chunk_size`` must be positive, else ``ValueError("chunk_size must be
    positive")``.

``download_chunked_tuple(size, chunk_size)``
    The same chunks as a **tuple** (so by value), with the same argument checks.

``cpu_work(iterations=100000)``
    A SHA-256 chain::

        d = b"start"
        for _ in range(iterations):
            d = hashlib.sha256(d).digest()
        return d.hex()[:16]

    So ``cpu_work(0) == "7374617274"`` (the 10 hex digits of ``b"start"``) and any
    ``iterations >= 1`` gives the first 16 hex digits of the last digest. ``iterations``
    must not be negative.

``io_work(delay=0.01)``
    Sleeps ``delay`` seconds (an int or a float), then returns ``"data"``. ``delay`` must
    not be negative.

``get_user(id)``
    Returns a new ``User`` (a class instance, so a reference) whose attributes, readable
    by a client with rpyc's default configuration, are ``id`` (``id`` itself), ``name``
    (``f"user{id}"``), ``email`` (``f"user{id}@example.com"``) and ``status``
    (``"active"``). ``repr()`` of it is ``f"User({id!r})"``, e.g. ``"User(7)"``.

``get_users(n)``
    Returns a **list** (a reference) of ``n`` new users with ids ``0 ... n-1``. ``n``
    must not be negative.

``get_user_dict(id)``
    Returns a **dict** (a reference) ``{"id": id, "name": ..., "email": ..., "status":
    "active"}`` with the values of ``get_user(id)``, in that key order.

``get_user_tuple(id)``
    Returns the tuple ``(id, name, email, status)`` (by value), values as ``get_user``.

``get_users_batch(ids)``
    Returns ``tuple(get_user_tuple(i) for i in ids)`` (by value). ``ids`` may be a tuple
    (iterated locally) or a client's list (iterated with requests back to the client).

``nested(depth, callback)``
    Returns ``0`` when ``depth == 0``, else ``callback(depth - 1) + 1``. A callback that
    calls ``nested`` again nests requests on the wire.

``raise_error(kind, message)``
    Always raises. When ``kind`` names a class of the ``builtins`` module deriving from
    ``BaseException``, raises ``that_class(message)`` -- except ``SystemExit``,
    ``KeyboardInterrupt`` and ``GeneratorExit`` (and their subclasses), for which it
    raises ``ValueError("refused exception kind: <kind>")``. For any other ``kind``
    (unknown name, a builtin that is not an exception class, a non-string) it raises
    ``ValueError("unknown exception kind: <kind>")``, ``<kind>`` formatted with ``str``.
    If the class cannot be built from a single argument (e.g. ``UnicodeDecodeError``), the
    ``TypeError`` of that attempt is what is raised.
"""

import builtins
import hashlib
import time

import rpyc

__all__ = ["BLOCK", "BLOCKS", "BenchmarkService", "PAYLOAD", "User"]

BLOCK = b"".join(hashlib.sha256(b"rpycbench payload" + i.to_bytes(4, "big")).digest() for i in range(2048))
"""The 64 KiB block ``download`` repeats by default, the same bytes as the native
server's ``PayloadKind::Incompressible.block()``: twice zlib's window, so nothing in it
compresses."""

_WORDS = ("the of and to in is that it for as with was on be by this are from at or an have not "
          "which but all were when we there can more if one has their will each about how up out "
          "them then she many some so these would other into time could two make like him see "
          "server client request reply frame bytes connection service value call").split()


def _text_block():
    """Sentences of 6 to 15 words of ``_WORDS``, one a line, capitalised, ending with a
    full stop; lengths and words drawn by the C library's classic LCG (seed 1, bits 16
    and up). The native ``PayloadKind::Text.block()`` builds the same 64 KiB."""
    x, out = 1, bytearray()

    def draw():
        nonlocal x
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        return x >> 16

    while len(out) < 65536:
        n = 6 + draw() % 10
        words = [_WORDS[draw() % len(_WORDS)] for _ in range(n)]
        words[0] = words[0].capitalize()
        out += (" ".join(words) + ".\n").encode()
    return bytes(out[:65536])


BLOCKS = {"incompressible": BLOCK, "text": _text_block(), "zeros": bytes(65536)}
"""The block of each payload kind, 64 KiB each (the native ``PayloadKind`` blocks)."""

PAYLOAD = "incompressible"
"""The kind ``download`` returns; the launcher sets it from ``--payload``."""

_REFUSED_EXCEPTIONS = (SystemExit, KeyboardInterrupt, GeneratorExit)


def _not_negative(name, value):
    if value < 0:
        raise ValueError(f"{name} must not be negative")


def _pattern(size):
    """``size`` bytes of the PAYLOAD block repeated (built in one go: sizes go up to 100 MB)."""
    _not_negative("size", size)
    block = BLOCKS[PAYLOAD]
    return (block * (size // len(block) + 1))[:size]


def _chunks(size, chunk_size):
    _not_negative("size", size)
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    data = _pattern(size)
    return [data[i:i + chunk_size] for i in range(0, size, chunk_size)]


class User:
    """A user record. A plain class, so it always travels as a reference; its attributes
    carry rpyc's ``exposed_`` prefix so that a default-config client reads ``user.id``,
    ``user.name``, ``user.email`` and ``user.status``."""

    def __init__(self, id):
        self.exposed_id = id
        self.exposed_name = f"user{id}"
        self.exposed_email = f"user{id}@example.com"
        self.exposed_status = "active"

    def __repr__(self):
        return f"User({self.exposed_id!r})"


def _user_tuple(id):
    return (id, f"user{id}", f"user{id}@example.com", "active")


class BenchmarkService(rpyc.Service):
    """The benchmark service; see the module docstring for the exact contract.

    The service is stateless, so giving a server the class (one instance per
    connection) or one instance is the same.
    """

    def exposed_ping(self):
        return "pong"

    def exposed_echo(self, x):
        return x

    def exposed_upload(self, data):
        return len(data)

    def exposed_download(self, size):
        return _pattern(size)

    def exposed_upload_chunked(self, chunks):
        total = 0
        for c in chunks:
            total += len(c)
        return total

    def exposed_download_chunked(self, size, chunk_size):
        return _chunks(size, chunk_size)

    def exposed_download_chunked_tuple(self, size, chunk_size):
        return tuple(_chunks(size, chunk_size))

    def exposed_cpu_work(self, iterations=100000):
        _not_negative("iterations", iterations)
        d = b"start"
        for _ in range(iterations):
            d = hashlib.sha256(d).digest()
        return d.hex()[:16]

    def exposed_io_work(self, delay=0.01):
        _not_negative("delay", delay)
        time.sleep(delay)
        return "data"

    def exposed_get_user(self, id):
        return User(id)

    def exposed_get_users(self, n):
        _not_negative("n", n)
        return [User(i) for i in range(n)]

    def exposed_get_user_dict(self, id):
        id_, name, email, status = _user_tuple(id)
        return {"id": id_, "name": name, "email": email, "status": status}

    def exposed_get_user_tuple(self, id):
        return _user_tuple(id)

    def exposed_get_users_batch(self, ids):
        return tuple(_user_tuple(i) for i in ids)

    def exposed_nested(self, depth, callback):
        return 0 if depth == 0 else callback(depth - 1) + 1

    def exposed_raise_error(self, kind, message):
        cls = getattr(builtins, kind, None) if isinstance(kind, str) else None
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            raise ValueError(f"unknown exception kind: {kind}")
        if issubclass(cls, _REFUSED_EXCEPTIONS):
            raise ValueError(f"refused exception kind: {kind}")
        raise cls(message)
