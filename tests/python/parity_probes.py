"""Parity probes: what a real rpyc 6.0.2 client observes of an rpycbench server.

Usage: python parity_probes.py PORT [--only NAME_PREFIX]

Connects with plain ``rpyc.connect("127.0.0.1", PORT)`` (rpyc's default client
configuration, as a default user would) and runs a fixed, ordered list of probes against
the built-in benchmark service (contract: rpycbench/python/rpycbench_service.py). Each
probe prints one JSON line::

    {"probe": "<group>.<name>", "result": <outcome>}

and the outputs of two servers are meant to be compared line by line: a native server must
produce exactly what a Python ``rpyc.ThreadedServer`` serving the same service produces.

Outcomes:

* a value: ``{"value": "<type>:<repr>"}`` -- the type name as the client sees it
  (``netref <name_pack>`` for a netref, e.g. ``netref builtins.list``), the repr as the
  client sees it (for a netref, the server's repr). Long reprs are summarised by length
  and hash.
* an exception: ``{"raised": "<module.Class>", "args": repr(exc.args), "str": str(exc)
  without the remote traceback, "remote_tb_sections": N, "remote_tb_tails": [...],
  "attrs": {...}}`` -- ``remote_tb_tails`` holds, for each "===== Remote Traceback (k)"
  section, ``k`` and the section's last line (its "Class: message" line), so the
  traceback *text* (Python frames) stays out of the comparison; ``attrs`` are the
  exception's public attributes (those vinegar sets, plus ``_remote_version``) as repr.

Only what differs from run to run is normalised: memory addresses (``0xADDR``),
connection ids, ports, hash values and id_pack object ids. The ``stall.`` probes are the
only timing-related ones: each reports how many of 30 calls took 30 ms or more (a Python
server stalls on some of them, Nagle + delayed ACK; a native one must not).

A failing probe is data; the script exits 0 unless it crashes itself (2: bad usage).
"""

import builtins
import copy
import gc
import hashlib
import inspect
import json
import math
import operator
import pickle
import re
import sys
import threading
import time

import rpyc
import rpyc.utils.classic
from rpyc.core.async_ import AsyncResultTimeout
from rpyc.core.netref import BaseNetref

HOST = "127.0.0.1"
PORT = None
REMOTE_SECTION = "\n\n========= Remote Traceback ("
REMOTE_MARK = "========= Remote Traceback"

# --------------------------------------------------------------------------- formatting

_ADDR = re.compile(r"0x[0-9a-fA-F]+")
_CONNID = re.compile(r"\bconn\d+\b")
_ENDPOINT = re.compile(r"(['\"]127\.0\.0\.1['\"], )\d+")
_HASHID = re.compile(r"#[0-9a-fA-F]{8,}\b")


def norm(text):
    text = _ADDR.sub("0xADDR", text)
    text = _HASHID.sub("#ID", text)
    text = _CONNID.sub("connN", text)
    return _ENDPOINT.sub(r"\1PORT", text)


def tname(v):
    t = type(v)
    if issubclass(t, BaseNetref):
        return "netref " + t.__name__
    return t.__name__


def exc_name(e):
    t = type(e)
    return f"{t.__module__}.{t.__name__}"


def safe_repr(v):
    try:
        return repr(v)
    except BaseException as e:  # noqa: BLE001 - a repr failing is data
        if isinstance(e, KeyboardInterrupt) and not hasattr(e, "_remote_tb"):
            raise
        return f"<repr raised {exc_name(e)}: {strip_tb(safe_str(e))}>"


def safe_str(e):
    try:
        return str(e)
    except Exception as x:  # noqa: BLE001
        return f"<str raised {exc_name(x)}>"


def strip_tb(text):
    i = text.find(REMOTE_SECTION)
    return text if i < 0 else text[:i]


def canon_repr(v):
    """repr, except that local frozensets/sets list their items sorted by repr: their
    order follows the client process's string-hash seed, not the server."""
    if type(v) in (frozenset, set):
        items = ", ".join(sorted(canon_repr(x) for x in v))
        return f"{type(v).__name__}({{{items}}})" if v else f"{type(v).__name__}()"
    if type(v) is tuple:
        inner = ", ".join(canon_repr(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if type(v) is list:
        return "[" + ", ".join(canon_repr(x) for x in v) + "]"
    return safe_repr(v)


def fmt(v):
    r = canon_repr(v)
    if len(r) > 2000:
        r = f"<{len(r)} chars, sha256 {hashlib.sha256(r.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}>"
    return norm(f"{tname(v)}:{r}")


def exc_outcome(e):
    s = safe_str(e)
    parts = s.split(REMOTE_SECTION)
    tails = []
    for part in parts[1:]:
        number = part.split(")", 1)[0]
        lines = [ln for ln in part.splitlines() if ln.strip()]
        tails.append(f"({number}) {lines[-1] if lines else ''}")
    attrs = {}
    for name in sorted(set(dir(e))):
        if name.startswith("__") or name in ("args", "with_traceback", "_remote_tb"):
            continue
        try:
            val = getattr(e, name)
        except Exception as x:  # noqa: BLE001
            val = f"<getattr raised {exc_name(x)}>"
        attrs[name] = norm(safe_repr(val))
    return {
        "raised": exc_name(e),
        "args": norm(safe_repr(e.args)),
        "str": norm(parts[0]),
        "remote_tb_sections": s.count(REMOTE_MARK),
        "remote_tb_tails": [norm(t) for t in tails],
        "attrs": attrs,
    }


# --------------------------------------------------------------------------- connections

_shared = {"conn": None}


def connect(**config):
    if config:
        return rpyc.connect(HOST, PORT, config=config)
    return rpyc.connect(HOST, PORT)


def C():
    """The shared connection, reconnected when a probe broke it."""
    conn = _shared["conn"]
    if conn is None or conn.closed:
        conn = _shared["conn"] = connect()
    return conn


def R():
    return C().root


def drop_shared():
    conn = _shared["conn"]
    _shared["conn"] = None
    if conn is not None:
        try:
            # close() waits for the reply to its CLOSE request: do not wait the default
            # 30 s on a server that is stuck in an earlier request.
            conn._config["sync_request_timeout"] = 1
            conn.close()
        except Exception:  # noqa: BLE001
            pass


class fresh:
    """``with fresh() as c:`` -- a connection of its own, always closed."""

    def __init__(self, **config):
        self.config = config

    def __enter__(self):
        self.conn = connect(**self.config)
        return self.conn

    def __exit__(self, *exc):
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass
        return False


# --------------------------------------------------------------------------- registry

PROBES = []
_NAMES = set()


def P(name, fn):
    if name in _NAMES:
        raise RuntimeError(f"duplicate probe name {name}")
    _NAMES.add(name)
    PROBES.append((name, fn))


def run_probe(fn):
    try:
        v = fn()
        return {"value": fmt(v)}
    except BaseException as e:  # noqa: BLE001 - a failing probe is data
        if isinstance(e, KeyboardInterrupt) and not hasattr(e, "_remote_tb"):
            raise
        out = exc_outcome(e)
        local = not hasattr(e, "_remote_tb")
        if local and isinstance(e, (EOFError, OSError, AsyncResultTimeout)):
            drop_shared()
        return out


# --------------------------------------------------------------------------- helpers


def user_facts(u):
    return (tname(u), repr(u), u.id, u.name, u.email, u.status)


def inspected_methods(netref):
    """The methods the netref class was built with (HANDLE_INSPECT's answer, or the
    locally cached builtin class) with their docstrings."""
    cls = type(netref)
    return sorted((k, v.__doc__) for k, v in cls.__dict__.items() if inspect.isfunction(v))


def idpack_facts(netref):
    name_pack, cls_id, obj_id = object.__getattribute__(netref, "____id_pack__")
    return (name_pack, type(cls_id).__name__, cls_id != 0, type(obj_id).__name__, obj_id != 0)


class Recorder:
    """A callback that records the arguments it receives (as fmt strings)."""

    def __init__(self, ret=lambda x: x):
        self.calls = []
        self.ret = ret

    def __call__(self, *args, **kwargs):
        self.calls.append(fmt(args) + (" " + fmt(kwargs) if kwargs else ""))
        return self.ret(*args)


def with_calls(fn, rec):
    try:
        result = fmt(fn())
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt) and not hasattr(e, "_remote_tb"):
            raise
        o = exc_outcome(e)
        result = f"raised {o['raised']}: {o['str']} sections={o['remote_tb_sections']}"
    return (result, rec.calls)


def bounded(method, *args, expiry=5.0):
    """method(*args) as a sync call would give it, but waiting at most ``expiry`` seconds
    (for arguments a server might take literally, e.g. io_work(1e30)); a reply that
    never comes raises rpyc's AsyncResultTimeout (builtins.TimeoutError) and the
    shared connection is replaced."""
    res = rpyc.async_(method)(*args)
    res.set_expiry(expiry)
    return res.value


def sha16(b):
    return hashlib.sha256(b).hexdigest()[:16]


METHODS = ["ping", "echo", "upload", "download", "upload_chunked", "download_chunked",
           "download_chunked_tuple", "cpu_work", "io_work", "get_user", "get_users",
           "get_user_dict", "get_user_tuple", "get_users_batch", "nested", "raise_error",
           "get_service_name", "get_service_aliases"]

# =========================================================================== 1. service

P("svc.ping", lambda: R().ping())
P("svc.get_service_name", lambda: R().get_service_name())
P("svc.get_service_aliases", lambda: R().get_service_aliases())
P("svc.exposed_get_service_name", lambda: R().exposed_get_service_name())
P("svc.root.repr", lambda: repr(R()))
P("svc.root.str", lambda: str(R()))
P("svc.root.type", lambda: tname(R()))
P("svc.root.format", lambda: format(R()))
P("svc.root.format_spec", lambda: format(R(), "x"))
P("svc.root.hash_type", lambda: type(hash(R())).__name__)
P("svc.root.eq_self", lambda: R() == R())
P("svc.root.ne_self", lambda: R() != R())
P("svc.root.eq_int", lambda: R() == 1)
P("svc.root.lt_self", lambda: R() < R())
P("svc.root.bool", lambda: bool(R()))
P("svc.root.len", lambda: len(R()))
P("svc.root.call", lambda: R()())
P("svc.root.iter", lambda: iter(R()))
P("svc.root.inspect", lambda: inspected_methods(R()))
P("svc.root.idpack", lambda: idpack_facts(R()))
P("svc.root.isinstance_Service", lambda: isinstance(R(), rpyc.Service))
P("svc.root.isinstance_object", lambda: isinstance(R(), object))
P("svc.root.class", lambda: R().__class__)
P("svc.root.dict", lambda: R().__dict__)
P("svc.root.doc", lambda: R().__doc__)
P("svc.root.dir", lambda: sorted(dir(R())))
P("svc.root.pickle", lambda: pickle.dumps(R()))

for _m in METHODS:
    P(f"svc.method.{_m}.repr", lambda m=_m: repr(getattr(R(), m)))
    P(f"svc.method.{_m}.type", lambda m=_m: tname(getattr(R(), m)))
    P(f"svc.method.{_m}.doc", lambda m=_m: getattr(R(), m).__doc__)
P("svc.method.ping.str", lambda: str(R().ping))
P("svc.method.ping.name", lambda: R().ping.__name__)
P("svc.method.ping.func", lambda: R().ping.__func__)
P("svc.method.ping.self", lambda: R().ping.__self__)
P("svc.method.ping.eq", lambda: R().ping == R().ping)
P("svc.method.ping.hash_type", lambda: type(hash(R().ping)).__name__)
P("svc.method.ping.dir", lambda: sorted(dir(R().ping)))
P("svc.method.ping.format", lambda: format(R().ping))
P("svc.method.echo.exposed_call", lambda: R().exposed_echo(3))

for _n in ["ping", "exposed_ping", "echo", "get_service_name", "exposed_get_service_name",
           "nope", "exposed_nope", "exposed_", "_x", "__class__", "__dict__", "__doc__",
           "__module__", "__init__", "__repr__", "__str__", "__eq__", "__hash__", "__len__",
           "__iter__", "__call__", "__format__", "__new__", "__slots__", "on_connect",
           "on_disconnect", "_rpyc_getattr", "_rpyc_setattr", "_rpyc_delattr", "_protocol",
           "_connect", "ALIASES", "exposed_exposed_ping", ""]:
    P(f"svc.hasattr.{_n or '<empty>'}", lambda n=_n: hasattr(R(), n))

for _n in ["exposed_ping", "exposed_exposed_ping", "nope", "exposed_nope", "_x", "__init__",
           "__slots__", "__getstate__", "__sizeof__", "__len__", "__new__",
           "__format__", "__subclasshook__", "_protocol", "ALIASES", "on_connect",
           "_rpyc_setattr", "get_service_name", "__str__", "__repr__"]:
    P(f"svc.getattr.{_n}", lambda n=_n: getattr(R(), n))

P("svc.call.exposed_ping", lambda: R().exposed_ping())
P("svc.call.nope", lambda: R().nope())
P("svc.call.__init__", lambda: R().__init__())
P("svc.call.repr_explicit", lambda: R().__repr__())
P("svc.call.str_explicit", lambda: R().__str__())
P("svc.call.format_explicit", lambda: R().__format__(""))
P("svc.call.sizeof_explicit", lambda: R().__sizeof__())


def _setattr(obj, name, value):
    setattr(obj, name, value)
    return "set"


def _delattr(obj, name):
    delattr(obj, name)
    return "deleted"


P("svc.setattr.root.x", lambda: _setattr(R(), "x", 1))
P("svc.setattr.root.ping", lambda: _setattr(R(), "ping", 1))
P("svc.setattr.root.exposed_ping", lambda: _setattr(R(), "exposed_ping", 1))
P("svc.delattr.root.ping", lambda: _delattr(R(), "ping"))
P("svc.delattr.root.nope", lambda: _delattr(R(), "nope"))
P("svc.setattr.user.name", lambda: _setattr(R().get_user(1), "name", "x"))
P("svc.setattr.user.nope", lambda: _setattr(R().get_user(1), "nope", 1))
P("svc.setattr.user.exposed_name", lambda: _setattr(R().get_user(1), "exposed_name", "x"))
P("svc.delattr.user.name", lambda: _delattr(R().get_user(1), "name"))
P("svc.delattr.user.nope", lambda: _delattr(R().get_user(1), "nope"))
P("svc.setattr.list.x", lambda: _setattr(R().get_users(1), "x", 1))
P("svc.delattr.list.x", lambda: _delattr(R().get_users(1), "x"))
P("svc.setattr.dict.x", lambda: _setattr(R().get_user_dict(1), "x", 1))
P("svc.setattr.method.x", lambda: _setattr(R().ping, "x", 1))

# =========================================================================== 2. brine

_nan = float("nan")
BRINE_VALUES = [
    ("None", None), ("True", True), ("False", False), ("int_0", 0), ("int_1", 1),
    ("int_-1", -1), ("int_255", 255), ("int_256", 256), ("int_2**31", 2**31),
    ("int_-2**31-1", -2**31 - 1), ("int_2**63", 2**63), ("int_2**64", 2**64),
    ("int_2**70", 2**70), ("int_-2**100", -2**100), ("int_2**1000", 2**1000),
    ("float_1.5", 1.5), ("float_0.0", 0.0), ("float_-0.0", -0.0), ("float_nan", _nan),
    ("float_inf", float("inf")), ("float_-inf", float("-inf")), ("float_1e308", 1e308),
    ("float_5e-324", 5e-324), ("float_0.1", 0.1), ("complex_1+2j", complex(1, 2)),
    ("complex_-0-0j", complex(-0.0, -0.0)), ("complex_nan_inf", complex(_nan, float("inf"))),
    ("str_empty", ""), ("str_abc", "abc"), ("str_unicode", "héllo ☃ 𝄞 中文"),
    ("str_nul", "a\x00b"), ("str_255", "x" * 255), ("str_256", "y" * 256),
    ("str_70000", "z" * 70000), ("str_surrogate", "\ud800"),
    ("bytes_empty", b""), ("bytes_abc", b"abc"), ("bytes_binary", bytes(range(256))),
    ("bytes_255", b"a" * 255), ("bytes_256", b"b" * 256), ("bytes_65536", b"c" * 65536),
    ("tuple_empty", ()), ("tuple_1", (1,)), ("tuple_2", (1, 2)), ("tuple_3", (1, 2, 3)),
    ("tuple_4", (1, 2, 3, 4)), ("tuple_5", (1, 2, 3, 4, 5)), ("tuple_300", tuple(range(300))),
    ("tuple_nested", (1, (2, (3, ((), "x"))), b"y")), ("tuple_mixed", (None, True, 1.5, "s", b"b", 2**70)),
    ("frozenset_empty", frozenset()), ("frozenset_ints", frozenset({1, 2, 3})),
    ("frozenset_mixed", frozenset({"a", (1, 2), b"c"})), ("frozenset_nested", frozenset({frozenset({1})})),
    ("slice_1_2_3", slice(1, 2, 3)), ("slice_none", slice(None)), ("slice_rev", slice(None, None, -1)),
    ("slice_mixed", slice("a", b"b", 1.5)), ("Ellipsis", Ellipsis), ("NotImplemented", NotImplemented),
    ("tuple_with_slice", (slice(1), Ellipsis, NotImplemented, None)),
]


def _echo_value(v):
    r = R().echo(v)
    if isinstance(v, float) and math.isnan(v):
        eq = isinstance(r, float) and math.isnan(r)
    elif isinstance(v, complex) and (math.isnan(v.real) or math.isnan(v.imag)):
        eq = repr(r) == repr(v)
    else:
        eq = (r == v) and canon_repr(r) == canon_repr(v)
    return (r, type(r) is type(v), eq)


for _name, _v in BRINE_VALUES:
    P(f"brine.echo.{_name}", lambda v=_v: _echo_value(v))


def _gen():
    yield 1


class _Klass:
    pass


def _func():
    return 1


def _echo_ref(make):
    obj = make()
    r = R().echo(obj)
    return (tname(r), r is obj)


for _name, _make in [("list", lambda: [1, 2]), ("list_empty", list), ("dict", lambda: {"a": 1}),
                     ("set", lambda: {1, 2}), ("object", object), ("function", lambda: _func),
                     ("lambda", lambda: (lambda: 0)), ("class", lambda: _Klass),
                     ("instance", _Klass), ("bytearray", lambda: bytearray(b"ab")),
                     ("generator", _gen), ("range", lambda: range(3)), ("exception", lambda: ValueError("x")),
                     ("module", lambda: json), ("builtin_function", lambda: len),
                     ("frozenset_with_list_elem", lambda: frozenset({_Klass})),
                     ("type_int", lambda: int), ("memoryview", lambda: memoryview(b"ab"))]:
    P(f"brine.echo_ref.{_name}", lambda make=_make: _echo_ref(make))


def _echo_tuple_with_ref():
    l = [1]
    r = R().echo((1, l, (l, "x")))
    return (type(r).__name__, len(r), r[0], r[1] is l, r[2][0] is l, r[2][1])


def _echo_server_ref(make):
    obj = make()
    r = R().echo(obj)
    return (tname(r), r is obj, repr(r))


P("brine.echo_ref.tuple_with_list", _echo_tuple_with_ref)
P("brine.echo_ref.server_user", lambda: _echo_server_ref(lambda: R().get_user(4)))
P("brine.echo_ref.server_list", lambda: _echo_server_ref(lambda: R().get_users(2)))
P("brine.echo_ref.server_dict", lambda: _echo_server_ref(lambda: R().get_user_dict(2)))
P("brine.echo_ref.server_method", lambda: _echo_server_ref(lambda: R().ping))
P("brine.echo_ref.server_root", lambda: _echo_server_ref(R))
P("brine.echo_ref.tuple_server_user", lambda: (lambda u: (lambda r: (type(r).__name__, r[0] is u, r[1]))(R().echo((u, 1))))(R().get_user(5)))

# =========================================================================== 3. binding

_cb0 = lambda x: x  # noqa: E731
BIND = [
    ("ping_1", lambda: R().ping(1)), ("ping_kw", lambda: R().ping(x=1)),
    ("ping_empty_star", lambda: R().ping(*[], **{})),
    ("echo_none", lambda: R().echo()), ("echo_1_2", lambda: R().echo(1, 2)),
    ("echo_x=1", lambda: R().echo(x=1)), ("echo_1_x=2", lambda: R().echo(1, x=2)),
    ("echo_1_y=2", lambda: R().echo(1, y=2)), ("echo_y=2", lambda: R().echo(y=2)),
    ("echo_x=1_y=2", lambda: R().echo(x=1, y=2)),
    ("cpu_work_1_2", lambda: R().cpu_work(1, 2)), ("cpu_work_iterations=3", lambda: R().cpu_work(iterations=3)),
    ("cpu_work_iterations=0", lambda: R().cpu_work(iterations=0)), ("cpu_work_iters=3", lambda: R().cpu_work(iters=3)),
    ("cpu_work_default", lambda: R().cpu_work()), ("cpu_work_1_iterations=1", lambda: R().cpu_work(1, iterations=1)),
    ("io_work_default", lambda: R().io_work()), ("io_work_delay=0", lambda: R().io_work(delay=0)),
    ("io_work_0_1", lambda: R().io_work(0, 1)), ("io_work_d=0", lambda: R().io_work(d=0)),
    ("get_user_none", lambda: R().get_user()), ("get_user_id=5", lambda: repr(R().get_user(id=5))),
    ("get_user_1_2", lambda: R().get_user(1, 2)), ("get_users_none", lambda: R().get_users()),
    ("get_users_n=2", lambda: R().get_users(n=2)), ("get_user_dict_id=2", lambda: R().get_user_dict(id=2)),
    ("get_user_tuple_none", lambda: R().get_user_tuple()), ("get_user_tuple_id=3", lambda: R().get_user_tuple(id=3)),
    ("get_users_batch_ids", lambda: R().get_users_batch(ids=(1,))), ("get_users_batch_none", lambda: R().get_users_batch()),
    ("nested_1", lambda: R().nested(1)), ("nested_none", lambda: R().nested()),
    ("nested_0_None", lambda: R().nested(0, None)), ("nested_kw", lambda: R().nested(depth=0, callback=None)),
    ("nested_kw_swapped", lambda: R().nested(callback=_cb0, depth=2)), ("nested_1_2_3", lambda: R().nested(1, _cb0, 3)),
    ("download_none", lambda: R().download()), ("download_size=3", lambda: R().download(size=3)),
    ("download_1_2", lambda: R().download(1, 2)),
    ("download_chunked_10", lambda: R().download_chunked(10)),
    ("download_chunked_kw", lambda: R().download_chunked(size=4, chunk_size=2)),
    ("download_chunked_tuple_kw", lambda: R().download_chunked_tuple(4, chunk_size=3)),
    ("download_chunked_tuple_1_2_3", lambda: R().download_chunked_tuple(1, 2, 3)),
    ("upload_none", lambda: R().upload()), ("upload_data=", lambda: R().upload(data=b"ab")),
    ("upload_chunked_kw", lambda: R().upload_chunked(chunks=(b"a",))),
    ("raise_error_1arg", lambda: R().raise_error("ValueError")),
    ("raise_error_kw", lambda: R().raise_error(kind="ValueError", message="m")),
    ("raise_error_none", lambda: R().raise_error()),
    ("raise_error_3args", lambda: R().raise_error("ValueError", "m", 1)),
    ("get_service_name_1", lambda: R().get_service_name(1)),
    ("get_service_aliases_kw", lambda: R().get_service_aliases(x=1)),
    ("echo_dup_kw", lambda: R().echo(1, **{"x": 1})),
    ("echo_kw_nonascii", lambda: R().echo(**{"é": 1})),
]
for _name, _fn in BIND:
    P(f"bind.{_name}", _fn)

# =========================================================================== 4. conversions


def _user_conv(arg):
    return user_facts(R().get_user(arg))


for _name, _arg in [("abc", "abc"), ("1.5", 1.5), ("2**70", 2**70), ("None", None), ("tuple", (1, 2)),
                    ("True", True), ("-1", -1), ("bytes", b"x"), ("empty_str", ""), ("nan", _nan),
                    ("complex", 1j), ("frozenset", frozenset({1}))]:
    P(f"conv.get_user.{_name}", lambda a=_arg: _user_conv(a))


def _user_client_list():
    l = [1]
    u = R().get_user(l)
    return (repr(u), u.id is l, u.name, u.email)


P("conv.get_user.client_list", _user_client_list)

for _name, _arg in [("2**70", 2**70), ("str", "x"), ("None", None), ("1.5", 1.5), ("True", True),
                    ("bytes", b"b"), ("tuple", (1,))]:
    P(f"conv.get_user_tuple.{_name}", lambda a=_arg: R().get_user_tuple(a))
P("conv.get_user_tuple.client_list", lambda: (lambda l: (lambda t: (t[0] is l, t[1:]))(R().get_user_tuple(l)))([2]))

for _name, _arg in [("True", True), ("str", "a"), ("None", None), ("2**70", 2**70), ("float", 2.5)]:
    P(f"conv.get_user_dict.{_name}", lambda a=_arg: R().get_user_dict(a))

for _name, _arg in [("True", True), ("False", False), ("2.0", 2.0), ("-1", -1), ("str_3", "3"),
                    ("None", None), ("0", 0), ("2", 2), ("tuple", (1,)), ("nan", _nan)]:
    P(f"conv.get_users.{_name}", lambda a=_arg: R().get_users(a))

for _name, _arg in [("True", True), ("False", False), ("1.5", 1.5), ("str_1", "1"), ("-1", -1),
                    ("0", 0), ("1", 1), ("2", 2), ("1000", 1000), ("None", None), ("2.0", 2.0)]:
    P(f"conv.cpu_work.{_name}", lambda a=_arg: R().cpu_work(a))

for _name, _arg in [("False", False), ("0.0", 0.0), ("0", 0), ("-0.5", -0.5), ("-1", -1),
                    ("str_x", "x"), ("None", None), ("1e-9", 1e-9), ("complex", 1j), ("nan", _nan),
                    ("2**70", 2**70), ("1e30", 1e30), ("bytes", b"0")]:
    P(f"conv.io_work.{_name}", lambda a=_arg: bounded(R().io_work, a))


def _download_facts(arg):
    d = R().download(arg)
    return (type(d).__name__, len(d), sha16(d))


for _name, _arg in [("True", True), ("False", False), ("0", 0), ("1", 1), ("5", 5), ("1.5", 1.5),
                    ("-1", -1), ("str_5", "5"), ("None", None), ("65536", 65536), ("65537", 65537),
                    ("200000", 200000), ("2.0", 2.0)]:
    P(f"conv.download.{_name}", lambda a=_arg: _download_facts(a))

for _name, _make in [("int", lambda: 5), ("bytes", lambda: b"abc"), ("bytes_empty", lambda: b""),
                     ("str_unicode", lambda: "héllo"), ("tuple", lambda: (1, 2, 3)),
                     ("client_list", lambda: [1, 2]), ("client_dict", lambda: {"a": 1}),
                     ("client_set", lambda: {1, 2, 3}), ("None", lambda: None),
                     ("frozenset", lambda: frozenset({1})), ("float", lambda: 1.5),
                     ("client_object", object), ("client_range", lambda: range(5)),
                     ("client_bytearray", lambda: bytearray(b"abcd")),
                     ("client_generator", _gen), ("server_list", lambda: R().get_users(4)),
                     ("server_dict", lambda: R().get_user_dict(1)),
                     ("server_user", lambda: R().get_user(1)),
                     ("slice", lambda: slice(1))]:
    P(f"conv.upload.{_name}", lambda make=_make: R().upload(make()))

for _name, _make in [("client_list_bytes", lambda: [b"ab", b"c"]), ("tuple_bytes", lambda: (b"x",)),
                     ("client_list_str", lambda: ["ab", "cd"]), ("client_list_int", lambda: [1]),
                     ("int", lambda: 5), ("client_list_empty", list), ("tuple_empty", tuple),
                     ("bytes", lambda: b"abc"), ("str", lambda: "abc"), ("None", lambda: None),
                     ("client_dict", lambda: {b"ab": 1, b"c": 2}),
                     ("client_generator", lambda: (b for b in [b"ab", b"c"])),
                     ("client_list_mixed", lambda: [b"a", "bc", (1, 2, 3), [1]]),
                     ("server_chunks", lambda: R().download_chunked(10, 3)),
                     ("server_list_users", lambda: R().get_users(2)),
                     ("frozenset", lambda: frozenset({(1, 2), (1, 2, 3)}))]:
    P(f"conv.upload_chunked.{_name}", lambda make=_make: R().upload_chunked(make()))

_DC = lambda: R().download_chunked(10, 3)  # noqa: E731
P("conv.download_chunked.10_3.type", lambda: tname(_DC()))
P("conv.download_chunked.10_3.repr", lambda: repr(_DC()))
P("conv.download_chunked.10_3.len", lambda: len(_DC()))
P("conv.download_chunked.10_3.index_0", lambda: _DC()[0])
P("conv.download_chunked.10_3.index_-1", lambda: _DC()[-1])
P("conv.download_chunked.10_3.index_4", lambda: _DC()[4])
P("conv.download_chunked.10_3.slice_1_3", lambda: _DC()[1:3])
P("conv.download_chunked.10_3.list", lambda: list(_DC()))
P("conv.download_chunked.10_3.for", lambda: [c for c in _DC()])
P("conv.download_chunked.10_3.join", lambda: b"".join(_DC()))
for _name, _args in [("10_0", (10, 0)), ("10_-1", (10, -1)), ("-1_2", (-1, 2)), ("-1_0", (-1, 0)),
                     ("0_5", (0, 5)), ("10_10", (10, 10)), ("10_20", (10, 20)), ("10_1.5", (10, 1.5)),
                     ("10_True", (10, True)), ("str_3", ("10", 3)), ("2.0_1", (2.0, 1)),
                     ("10_None", (10, None)), ("5_2", (5, 2))]:
    P(f"conv.download_chunked.{_name}", lambda a=_args: R().download_chunked(*a))
for _name, _args in [("10_4", (10, 4)), ("10_0", (10, 0)), ("0_1", (0, 1)), ("-1_1", (-1, 1)),
                     ("10_1.5", (10, 1.5)), ("3_True", (3, True))]:
    P(f"conv.download_chunked_tuple.{_name}", lambda a=_args: R().download_chunked_tuple(*a))

for _name, _make in [("tuple", lambda: (1, 2)), ("client_list", lambda: [1, 2]),
                     ("tuple_str", lambda: ("a",)), ("str", lambda: "ab"), ("int", lambda: 5),
                     ("tuple_empty", tuple), ("tuple_bools", lambda: (True, None)),
                     ("client_range", lambda: range(3)), ("None", lambda: None),
                     ("frozenset", lambda: frozenset({7})), ("bytes", lambda: b"\x01\x02"),
                     ("server_list", lambda: R().get_users(2))]:
    P(f"conv.get_users_batch.{_name}", lambda make=_make: R().get_users_batch(make()))

P("conv.nested.True_cb", lambda: (lambda rec: with_calls(lambda: R().nested(True, rec), rec))(Recorder()))
P("conv.nested.0_cb", lambda: (lambda rec: with_calls(lambda: R().nested(0, rec), rec))(Recorder()))
P("conv.nested.2_cb", lambda: (lambda rec: with_calls(lambda: R().nested(2, rec), rec))(Recorder()))
P("conv.nested.1.5_cb", lambda: (lambda rec: with_calls(lambda: R().nested(1.5, rec), rec))(Recorder()))
P("conv.nested.2**70_cb", lambda: (lambda rec: with_calls(lambda: R().nested(2**70, rec), rec))(Recorder()))
P("conv.nested.str_cb", lambda: (lambda rec: with_calls(lambda: R().nested("a", rec), rec))(Recorder()))
P("conv.nested.False_cb", lambda: (lambda rec: with_calls(lambda: R().nested(False, rec), rec))(Recorder()))
P("conv.nested.0.0_cb", lambda: (lambda rec: with_calls(lambda: R().nested(0.0, rec), rec))(Recorder()))
P("conv.nested.None_cb", lambda: (lambda rec: with_calls(lambda: R().nested(None, rec), rec))(Recorder()))
P("conv.nested.1_cb_str", lambda: (lambda rec: with_calls(lambda: R().nested(1, rec), rec))(Recorder(lambda x: "s")))


def _again(depth):
    """A callback that calls `nested` back: server and client recurse together."""
    return R().nested(depth, _again)


# Mutual recursion: how deep it goes before a RecursionError, and from which side.
for _depth in (10, 40, 80, 150, 400):
    P(f"conv.nested.mutual_{_depth}", lambda d=_depth: R().nested(d, _again))
P("conv.nested.1_cb_None", lambda: (lambda rec: with_calls(lambda: R().nested(1, rec), rec))(Recorder(lambda x: None)))
P("conv.nested.1_cb_float", lambda: (lambda rec: with_calls(lambda: R().nested(1, rec), rec))(Recorder(lambda x: 1.5)))
P("conv.nested.1_cb_bool", lambda: (lambda rec: with_calls(lambda: R().nested(1, rec), rec))(Recorder(lambda x: True)))
P("conv.nested.1_cb_big", lambda: (lambda rec: with_calls(lambda: R().nested(1, rec), rec))(Recorder(lambda x: 2**70)))
P("conv.nested.1_cb_list", lambda: (lambda rec: with_calls(lambda: R().nested(1, rec), rec))(Recorder(lambda x: [1])))
P("conv.nested.1_cb_complex", lambda: (lambda rec: with_calls(lambda: R().nested(1, rec), rec))(Recorder(lambda x: 1j)))
P("conv.nested.-1_cb_zero", lambda: (lambda rec: with_calls(lambda: R().nested(-1, rec), rec))(Recorder(lambda x: 0)))
P("conv.nested.1_int", lambda: R().nested(1, 5))
P("conv.nested.1_None", lambda: R().nested(1, None))
P("conv.nested.1_str", lambda: R().nested(1, "f"))
P("conv.nested.1_abs", lambda: R().nested(1, abs))
P("conv.nested.2_int", lambda: R().nested(2, int))
P("conv.nested.1_str_type", lambda: R().nested(1, str))
P("conv.nested.2_server_echo", lambda: R().nested(2, R().echo))
P("conv.nested.3_server_get_user", lambda: R().nested(3, R().get_user))


class _Callable:
    def __call__(self, x):
        return x * 10


P("conv.nested.2_callable_object", lambda: R().nested(2, _Callable()))


def _real_nesting(depth):
    seen = []

    def cb(d):
        seen.append(d)
        return R().nested(d, cb)
    return (R().nested(depth, cb), seen)


P("conv.nested.real_3", lambda: _real_nesting(3))
P("conv.nested.real_6", lambda: _real_nesting(6))

# =========================================================================== 5. exceptions

EXC_NAMES = sorted(n for n in dir(builtins)
                   if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException))
for _n in EXC_NAMES:
    P(f"exc.raise.{_n}", lambda n=_n: R().raise_error(n, "m"))
for _name, _args in [("int_kind", (5, "x")), ("NoSuch", ("NoSuch", "x")), ("int_name", ("int", "x")),
                     ("SystemExit", ("SystemExit", "x")), ("KeyboardInterrupt", ("KeyboardInterrupt", "x")),
                     ("GeneratorExit", ("GeneratorExit", "x")), ("UnicodeDecodeError", ("UnicodeDecodeError", "x")),
                     ("None_kind", (None, "x")), ("bytes_kind", (b"ValueError", "x")),
                     ("empty_kind", ("", "x")), ("lowercase", ("valueerror", "x")),
                     ("dotted", ("builtins.ValueError", "x")), ("print", ("print", "x")),
                     ("object", ("object", "x")), ("msg_int", ("ValueError", 5)),
                     ("msg_None", ("ValueError", None)), ("msg_tuple", ("ValueError", (1, "a"))),
                     ("msg_list", ("ValueError", [1])), ("msg_bytes", ("KeyError", b"k")),
                     ("msg_unicode", ("RuntimeError", "héllo ☃")), ("msg_empty", ("ValueError", "")),
                     ("msg_multiline", ("ValueError", "a\nb")), ("OSError_int", ("OSError", 2)),
                     ("KeyError_str", ("KeyError", "k")), ("StopIteration_val", ("StopIteration", 5)),
                     ("ExceptionGroup", ("ExceptionGroup", "x")), ("tuple_kind", (("ValueError",), "x")),
                     ("Warning_float", ("Warning", 1.5)), ("SyntaxError_tuple", ("SyntaxError", ("f", 1, 2, "t"))),
                     ("BaseException_none", ("BaseException", None))]:
    P(f"exc.special.{_name}", lambda a=_args: R().raise_error(*a))

# =========================================================================== 6. object protocol

_L = lambda: R().get_users(3)  # noqa: E731
_D = lambda: R().get_user_dict(1)  # noqa: E731
_U = lambda: R().get_user(1)  # noqa: E731


def _self_list():
    """A server list that holds itself (the client's netref comes home as the list;
    `append` is not a safe attribute, item assignment is)."""
    L = R().get_users(1)
    L[0] = L
    return L


def _self_dict():
    D = _D()
    D["me"] = D
    return D


def _deep_list(depth):
    """Server lists nested `depth` deep, built one append at a time."""
    top = cur = R().get_users(1)
    for _ in range(depth):
        below = R().get_users(1)
        cur[0] = below
        cur = below
    return top


P("recursion.list_self.repr", lambda: repr(_self_list()))
P("recursion.list_self.eq_self", lambda: (lambda L: L == L)(_self_list()))
P("recursion.list_self.eq_other", lambda: _self_list() == _self_list())
P("recursion.list_self.len", lambda: len(_self_list()))
P("recursion.list_self.contains", lambda: (lambda L: L in L)(_self_list()))
P("recursion.dict_self.repr", lambda: repr(_self_dict()))
P("recursion.dict_self.eq_other", lambda: _self_dict() == _self_dict())
# Each side of CPython's recursion limit, as a Python server meets it (rpyc 6.0.2,
# CPython 3.11: repr and str raise from 984 levels, == from 987). Only the first
# failing depth is probed: CPython's message one level deeper, and str's boundary on a
# connection after the first, move by a level with the interpreter's recursion headroom.
for _depth in (50, 983, 984):
    P(f"recursion.deep_list_{_depth}.repr", lambda d=_depth: repr(_deep_list(d))[:40])
P("recursion.deep_list_983.str", lambda: str(_deep_list(983))[:40])
for _depth in (50, 986, 987):
    P(f"recursion.deep_list_{_depth}.eq", lambda d=_depth: _deep_list(d) == _deep_list(d))


def _contains_elem():
    L = _L()
    u = L[0]
    return (u in L, L[1] in L)


def _list_for():
    out = []
    for x in _L():
        out.append(repr(x))
    return out


def _list_for_iter():
    out = []
    for x in iter(_L()):
        out.append(repr(x))
    return out


def _exhaust():
    it = iter(R().get_users(1))
    first = next(it)
    return (repr(first), next(it))


def _iter_is_iter():
    it = iter(_L())
    return iter(it) is it


def _mutate(fn):
    L = _L()
    r = fn(L)
    return (r if not isinstance(r, BaseNetref) else ("same" if r is L else repr(r)), repr(L))


def _delitem(L, key):
    del L[key]
    return None


def _setitem(L, key, value):
    L[key] = value
    return None


PROTO = [
    ("list.type", lambda: tname(_L())), ("list.repr", lambda: repr(_L())), ("list.str", lambda: str(_L())),
    ("list.format", lambda: format(_L())), ("list.format_spec", lambda: format(_L(), "x")),
    ("list.len", lambda: len(_L())), ("list.len_explicit", lambda: _L().__len__()),
    ("list.index_0", lambda: _L()[0]), ("list.index_-1", lambda: _L()[-1]),
    ("list.index_3", lambda: _L()[3]), ("list.index_-4", lambda: _L()[-4]),
    ("list.index_str", lambda: _L()["a"]), ("list.index_float", lambda: _L()[1.5]),
    ("list.index_True", lambda: _L()[True]), ("list.index_2**70", lambda: _L()[2**70]),
    ("list.getitem_explicit", lambda: _L().__getitem__(0)),
    ("list.slice_0_2", lambda: _L()[0:2]), ("list.slice_rev", lambda: _L()[::-1]),
    ("list.slice_5_", lambda: _L()[5:]), ("list.slice_1_", lambda: _L()[1:]),
    ("list.slice_step2", lambda: _L()[::2]), ("list.slice_step0", lambda: _L()[::0]),
    ("list.slice_str", lambda: _L()["a":]),
    ("list.contains_elem", _contains_elem), ("list.contains_int", lambda: 1 in _L()),
    ("list.contains_other_user", lambda: R().get_user(0) in _L()),
    ("list.list", lambda: list(_L())), ("list.for", _list_for), ("list.list_iter", lambda: list(iter(_L()))),
    ("list.for_iter", _list_for_iter), ("list.next_iter", lambda: next(iter(_L()))),
    ("list.next_exhausted", _exhaust), ("list.next_on_list", lambda: next(_L())),
    ("list.iter_repr", lambda: repr(iter(_L()))), ("list.iter_type", lambda: tname(iter(_L()))),
    ("list.iter_length_hint", lambda: operator.length_hint(iter(_L()))),
    ("list.iter_is_iter", _iter_is_iter), ("list.tuple", lambda: tuple(_L())),
    ("list.enumerate", lambda: list(enumerate(_L()))), ("list.zip", lambda: list(zip(_L(), "ab"))),
    ("list.add_self", lambda: (lambda L: L + L)(_L())), ("list.add_client_list", lambda: _L() + [1]),
    ("list.add_tuple", lambda: _L() + (1,)), ("list.radd_client_list", lambda: [1] + _L()),
    ("list.add_int", lambda: _L() + 1),
    ("list.mul_2", lambda: _L() * 2), ("list.rmul_2", lambda: 2 * _L()), ("list.mul_0", lambda: _L() * 0),
    ("list.mul_-1", lambda: _L() * -1), ("list.mul_str", lambda: _L() * "a"), ("list.mul_float", lambda: _L() * 1.5),
    ("list.iadd_client_list", lambda: _mutate(lambda L: operator.iadd(L, [7]))),
    ("list.iadd_tuple", lambda: _mutate(lambda L: operator.iadd(L, (1, 2)))),
    ("list.iadd_self", lambda: _mutate(lambda L: operator.iadd(L, L))),
    ("list.iadd_int", lambda: _mutate(lambda L: operator.iadd(L, 1))),
    ("list.imul_2", lambda: _mutate(lambda L: operator.imul(L, 2))),
    ("list.eq_self", lambda: (lambda L: L == L)(_L())), ("list.eq_other", lambda: _L() == _L()),
    ("list.eq_client_list", lambda: _L() == [1, 2, 3]), ("list.ne_int", lambda: _L() != 5),
    ("list.eq_explicit_client", lambda: _L().__eq__([1])),
    ("list.lt_self", lambda: (lambda L: L < L)(_L())), ("list.le_self", lambda: (lambda L: L <= L)(_L())),
    ("list.gt_int", lambda: _L() > 1), ("list.lt_client_list", lambda: _L() < [1]),
    ("list.lt_empty", lambda: R().get_users(0) < R().get_users(1)),
    ("list.bool", lambda: bool(_L())), ("list.bool_empty", lambda: bool(R().get_users(0))),
    ("list.hash_type", lambda: type(hash(_L())).__name__),
    ("list.setitem", lambda: _mutate(lambda L: _setitem(L, 0, 1))),
    ("list.setitem_slice", lambda: _mutate(lambda L: _setitem(L, slice(0, 2), (5,)))),
    ("list.setitem_out_of_range", lambda: _mutate(lambda L: _setitem(L, 9, 1))),
    ("list.setitem_client_list", lambda: _mutate(lambda L: _setitem(L, slice(0, 1), [8, 9]))),
    ("list.delitem", lambda: _mutate(lambda L: _delitem(L, 0))),
    ("list.delitem_slice", lambda: _mutate(lambda L: _delitem(L, slice(1, None)))),
    ("list.delitem_out_of_range", lambda: _mutate(lambda L: _delitem(L, 7))),
    ("list.doc", lambda: _L().__doc__), ("list.append", lambda: _L().append(1)),
    ("list.index_method", lambda: (lambda L: L.index(L[0]))(_L())), ("list.count", lambda: _L().count(1)),
    ("list.copy", lambda: _L().copy()), ("list.reversed", lambda: list(reversed(_L()))),
    ("list.sorted", lambda: sorted(_L())), ("list.min", lambda: min(_L())),
    ("list.dir", lambda: sorted(dir(_L()))), ("list.isinstance_list", lambda: isinstance(_L(), list)),
    ("list.isinstance_tuple", lambda: isinstance(_L(), tuple)), ("list.class", lambda: _L().__class__),
    ("list.idpack", lambda: idpack_facts(_L())), ("list.copy_copy", lambda: copy.copy(_L())),
    ("list.call", lambda: _L()()), ("list.getattr_nope", lambda: _L().nope),
    ("list.getattr_class_explicit", lambda: getattr(_L(), "__class__")),
    ("list.sizeof", lambda: _L().__sizeof__()), ("list.reduce", lambda: _L().__reduce__()),
    ("list.exit", lambda: _L().__exit__(None, None, None)),
    ("chunks.sorted", lambda: sorted(R().download_chunked(10, 3))),
    ("chunks.max", lambda: max(R().download_chunked(10, 3))),
    ("chunks.sum_len", lambda: sum(len(c) for c in R().download_chunked(10, 3))),
    ("chunks.contains", lambda: R().download(3) in R().download_chunked(10, 3)),
    ("chunks.index_method", lambda: R().download_chunked(10, 3).index(R().download(3))),
    ("chunks.str", lambda: str(R().download_chunked(4, 2))),
    ("dict.type", lambda: tname(_D())), ("dict.repr", lambda: repr(_D())), ("dict.str", lambda: str(_D())),
    ("dict.getitem_name", lambda: _D()["name"]), ("dict.getitem_id", lambda: _D()["id"]),
    ("dict.getitem_nope", lambda: _D()["nope"]), ("dict.getitem_int", lambda: _D()[1]),
    ("dict.getitem_tuple", lambda: _D()[(1, 2)]), ("dict.getitem_client_list", lambda: _D()[[1]]),
    ("dict.contains_name", lambda: "name" in _D()), ("dict.contains_nope", lambda: "nope" in _D()),
    ("dict.contains_client_list", lambda: [1] in _D()),
    ("dict.len", lambda: len(_D())), ("dict.list", lambda: list(_D())), ("dict.sorted_iter", lambda: sorted(iter(_D()))),
    ("dict.items_via_keys", lambda: (lambda d: [(k, d[k]) for k in d])(_D())),
    ("dict.keys", lambda: _D().keys()), ("dict.values", lambda: _D().values()), ("dict.items", lambda: _D().items()),
    ("dict.get", lambda: _D().get("id")), ("dict.eq_self", lambda: (lambda d: d == d)(_D())),
    ("dict.eq_other", lambda: _D() == _D()), ("dict.eq_other_id", lambda: _D() == R().get_user_dict(2)),
    ("dict.eq_client_dict", lambda: _D() == {"id": 1}), ("dict.ne_int", lambda: _D() != 1),
    ("dict.lt_self", lambda: (lambda d: d < d)(_D())),
    ("dict.or_self", lambda: (lambda d: d | d)(_D())), ("dict.or_client", lambda: _D() | {"x": 1}),
    ("dict.ror_client", lambda: {"x": 1} | _D()), ("dict.ior_tuple", lambda: operator.ior(_D(), (("x", 1),))),
    ("dict.setitem", lambda: (lambda d: (_setitem(d, "x", 1), repr(d)))(_D())),
    ("dict.delitem", lambda: (lambda d: (_delitem(d, "id"), repr(d)))(_D())),
    ("dict.delitem_nope", lambda: (lambda d: _delitem(d, "nope"))(_D())),
    ("dict.hash_type", lambda: type(hash(_D())).__name__), ("dict.bool", lambda: bool(_D())),
    ("dict.iter_repr", lambda: repr(iter(_D()))), ("dict.iter_type", lambda: tname(iter(_D()))),
    ("dict.iter_inspect", lambda: inspected_methods(iter(_D()))),
    ("dict.iter_next", lambda: next(iter(_D()))),
    ("dict.dir", lambda: sorted(dir(_D()))), ("dict.doc", lambda: _D().__doc__),
    ("dict.dict_ctor", lambda: dict(_D())), ("dict.unpack", lambda: {**_D()}),
    ("dict.isinstance_dict", lambda: isinstance(_D(), dict)), ("dict.idpack", lambda: idpack_facts(_D())),
    ("dict.format", lambda: format(_D())), ("dict.reversed", lambda: list(reversed(_D()))),
    ("user.type", lambda: tname(_U())), ("user.id", lambda: _U().id), ("user.name", lambda: _U().name),
    ("user.email", lambda: _U().email), ("user.status", lambda: _U().status),
    ("user.exposed_id", lambda: _U().exposed_id), ("user.nope", lambda: _U().nope),
    ("user.exposed_nope", lambda: _U().exposed_nope), ("user.__init__", lambda: _U().__init__),
    ("user.__dict__", lambda: _U().__dict__), ("user.__class__", lambda: _U().__class__),
    ("user.__module__", lambda: _U().__module__),
    ("user.eq_self", lambda: (lambda u: u == u)(_U())), ("user.eq_other", lambda: _U() == _U()),
    ("user.ne_self", lambda: (lambda u: u != u)(_U())), ("user.eq_int", lambda: _U() == 1),
    ("user.lt_self", lambda: (lambda u: u < u)(_U())), ("user.lt_explicit", lambda: (lambda u: u.__lt__(u))(_U())),
    ("user.eq_explicit", lambda: (lambda u: u.__eq__(u))(_U())),
    ("user.hash_type", lambda: type(hash(_U())).__name__),
    ("user.hash_stable", lambda: (lambda u: hash(u) == hash(u))(_U())),
    ("user.repr", lambda: repr(_U())), ("user.str", lambda: str(_U())), ("user.format", lambda: format(_U())),
    ("user.format_spec", lambda: format(_U(), "s")), ("user.fstring", lambda: f"{_U()}|{_U()!r}"),
    ("user.format_explicit", lambda: _U().__format__("")),
    ("user.repr_explicit", lambda: _U().__repr__()), ("user.str_explicit", lambda: _U().__str__()),
    ("user.sizeof", lambda: _U().__sizeof__()), ("user.reduce_ex", lambda: _U().__reduce_ex__(2)),
    ("user.getstate", lambda: _U().__getstate__()),
    ("user.doc", lambda: _U().__doc__), ("user.dir", lambda: sorted(dir(_U()))),
    ("user.inspect", lambda: inspected_methods(_U())), ("user.idpack", lambda: idpack_facts(_U())),
    ("user.same_class_id", lambda: (lambda a, b: object.__getattribute__(a, "____id_pack__")[1] == object.__getattribute__(b, "____id_pack__")[1])(_U(), R().get_user(2))),
    ("user.isinstance_object", lambda: isinstance(_U(), object)), ("user.isinstance_int", lambda: isinstance(_U(), int)),
    ("user.bool", lambda: bool(_U())), ("user.len", lambda: len(_U())), ("user.call", lambda: _U()()),
    ("user.iter", lambda: iter(_U())), ("user.add", lambda: _U() + 1), ("user.id_plus_1", lambda: _U().id + 1),
    ("user.in_tuple", lambda: (lambda u: u in (1, u))(_U())),
    ("user.cache_identity", lambda: (lambda L: (L[0] is L[0], object.__getattribute__(L[0], "____refcount__") >= 1))(_L())),
    ("user.setattr_local_doc", lambda: _setattr(_U(), "__doc__", "x")),
    ("user.enter", lambda: _U().__enter__()),
    ("user.class_getattr_type", lambda: type(_U()).__name__),
]
for _name, _fn in PROTO:
    P(f"proto.{_name}", _fn)

# =========================================================================== 7. classic / pickle

P("classic.obtain.list", lambda: rpyc.utils.classic.obtain(_L()))
P("classic.obtain.dict", lambda: rpyc.utils.classic.obtain(_D()))
P("classic.obtain.user", lambda: rpyc.utils.classic.obtain(_U()))
P("classic.obtain.chunks", lambda: rpyc.utils.classic.obtain(R().download_chunked(4, 2)))
P("classic.obtain.root", lambda: rpyc.utils.classic.obtain(R()))
P("classic.obtain.value", lambda: rpyc.utils.classic.obtain(R().get_user_tuple(1)))
P("classic.deliver", lambda: rpyc.utils.classic.deliver(C(), [1, 2]))
P("classic.pickle.list", lambda: pickle.dumps(_L()))
P("classic.pickle.user_proto2", lambda: pickle.dumps(_U(), 2))
P("classic.copy.deepcopy_dict", lambda: copy.deepcopy(_D()))
P("classic.copy.copy_user", lambda: copy.copy(_U()))


def _classic_connect(action):
    c = rpyc.classic.connect(HOST, PORT)
    try:
        return action(c)
    finally:
        c.close()


P("classic.connect", lambda: _classic_connect(lambda c: c.root.get_service_name()))

# =========================================================================== 8. async


def _async_state():
    res = rpyc.async_(R().echo)(5)
    v = res.value
    return (v, res.ready, res.error, res.expired)


def _async_error_state():
    res = rpyc.async_(R().raise_error)("ValueError", "m")
    res.wait()
    return (res.ready, res.error, res.expired)


def _async_callback():
    got = []
    ev = threading.Event()
    res = rpyc.async_(R().echo)(9)

    def cb(r):
        got.append((r.ready, r.error, r.value))
        ev.set()
    res.add_callback(cb)
    res.wait()
    ev.wait(5)
    return got


def _async_many():
    f = rpyc.async_(R().echo)
    rs = [f(i) for i in range(20)]
    return [r.value for r in rs]


def _timed_expire():
    with fresh() as c:
        return rpyc.timed(c.root.io_work, 0.01)(0.2).value


def _set_expiry():
    with fresh() as c:
        res = rpyc.async_(c.root.io_work)(0.2)
        res.set_expiry(0.01)
        return res.value


def _bg_thread():
    with fresh() as c:
        bg = rpyc.BgServingThread(c)
        try:
            seen = []

            def cb(d):
                seen.append(d)
                return c.root.nested(d, cb) if d else 0
            r1 = c.root.nested(3, cb)
            r2 = rpyc.async_(c.root.echo)(7).value
            r3 = c.root.upload_chunked([b"ab", b"c"])
            return (r1, sorted(seen), r2, r3)
        finally:
            bg.stop()


P("async.echo.value", lambda: rpyc.async_(R().echo)(5).value)
P("async.echo.state", _async_state)
P("async.echo.kwargs", lambda: rpyc.async_(R().echo)(x=3).value)
P("async.raise.value", lambda: rpyc.async_(R().raise_error)("ValueError", "m").value)
P("async.raise.state", _async_error_state)
P("async.get_user.value", lambda: repr(rpyc.async_(R().get_user)(2).value))
P("async.callback", _async_callback)
P("async.many_outstanding", _async_many)
P("async.nested_cb", lambda: rpyc.async_(R().nested)(2, lambda x: x).value)
P("async.timed.expired", _timed_expire)
P("async.timed.ok", lambda: rpyc.timed(R().echo, 5)(3).value)
P("async.set_expiry", _set_expiry)
P("async.not_netref", lambda: rpyc.async_(len))
P("async.bg_serving_thread", _bg_thread)
P("async.conn_ping", lambda: C().ping())
P("async.conn_ping_data", lambda: C().ping(data="xyz" * 1000))
P("async.conn_poll_idle", lambda: C().poll(0))

# =========================================================================== 9. callbacks & exceptions


class MyErr(Exception):
    pass


def _cb_raise(exc):
    def cb(d):
        raise exc
    return R().nested(1, cb)


def _cb_deep_raise():
    def cb(d):
        if d == 0:
            raise ValueError("deep")
        return R().nested(d, cb)
    return R().nested(3, cb)


def _cb_remote_roundtrip():
    def cb(d):
        return R().raise_error("IndexError", "round")
    return R().nested(1, cb)


class _BadChunks:
    def __iter__(self):
        yield b"ab"
        raise ValueError("bad chunk")


class _BadLen:
    def __len__(self):
        raise RuntimeError("no len")


def _stop_in_for():
    out = []
    it = iter(R().get_users(2))
    for x in it:
        out.append(repr(x))
    try:
        next(it)
    except StopIteration as e:
        out.append(("StopIteration", e.args, type(e).__name__, hasattr(e, "_remote_tb")))
    return out


P("cb.raise.ValueError", lambda: _cb_raise(ValueError("inner")))
P("cb.raise.KeyError", lambda: _cb_raise(KeyError("k")))
P("cb.raise.StopIteration", lambda: _cb_raise(StopIteration))
P("cb.raise.TypeError_args", lambda: _cb_raise(TypeError("a", 1, None)))
P("cb.raise.custom", lambda: _cb_raise(MyErr("mine")))
P("cb.raise.OSError", lambda: _cb_raise(OSError(2, "nofile", "f.txt")))
P("cb.raise.AttributeError", lambda: _cb_raise(AttributeError("attr")))
P("cb.raise.deep", _cb_deep_raise)
P("cb.raise.remote_roundtrip", _cb_remote_roundtrip)
P("cb.upload_chunked.bad_iter", lambda: R().upload_chunked(_BadChunks()))
P("cb.upload_chunked.bad_len", lambda: R().upload_chunked([_BadLen()]))
P("cb.upload.bad_len", lambda: R().upload(_BadLen()))
P("cb.get_users_batch.bad_iter", lambda: R().get_users_batch(_BadChunks()))
P("cb.keyerror.args", lambda: _D()["nope"])
P("cb.keyerror.int", lambda: _D()[5])
P("cb.indexerror", lambda: _L()[10])
P("cb.stopiteration.for", _stop_in_for)
P("cb.stopiteration.next_empty", lambda: next(iter(R().get_users(0))))
P("cb.nested_kwargs_callback", lambda: R().nested(depth=1, callback=lambda d: d + 41))

# =========================================================================== 10. payloads

MiB = 2**20


def _download_big():
    d = R().download(16 * MiB)
    return (type(d).__name__, len(d), sha16(d))


def _echo_big():
    data = bytes(range(256)) * (16 * MiB // 256)
    r = R().echo(data)
    return (type(r).__name__, len(r), r == data)


def _chunks_big():
    chunks = R().download_chunked(MiB, 65536)
    lst = list(chunks)
    return (len(lst), sha16(b"".join(lst)))


P("payload.download_16MiB", _download_big)
P("payload.upload_20MB", lambda: R().upload(b"x" * 20_000_000))
P("payload.echo_16MiB", _echo_big)
P("payload.download_chunked_1MiB", _chunks_big)
P("payload.download_chunked_tuple_1MiB", lambda: (lambda t: (len(t), sha16(b"".join(t))))(R().download_chunked_tuple(MiB, 100000)))
P("payload.upload_chunked_tuple_1MiB", lambda: R().upload_chunked((b"x" * 65536,) * 16))
P("payload.get_users_batch_1000", lambda: (lambda t: (len(t), sha16(repr(t).encode())))(R().get_users_batch(tuple(range(1000)))))
P("payload.echo_str_1MB", lambda: (lambda s: R().echo(s) == s)("é" * 500_000))
P("payload.get_users_500_repr", lambda: repr(R().get_users(500)))
P("payload.cpu_work_default", lambda: R().cpu_work())

# =========================================================================== 11. sync_request_timeout


def _sync_timeout():
    with fresh(sync_request_timeout=0.2) as c:
        c.root.ping()
        try:
            c.root.io_work(1)
            first = "no timeout"
        except Exception as e:  # noqa: BLE001
            first = (exc_name(e), strip_tb(str(e)))
        time.sleep(1.0)
        return (first, c.closed, c.root.ping(), c.root.echo(5), c.root.io_work(0))


P("timeout.sync_request_timeout", _sync_timeout)

# =========================================================================== 12. gc & threads


def _gc_refs():
    for i in range(1000):
        u = R().get_user(i)
    name = u.name
    del u
    gc.collect()
    return (name, R().ping(), repr(R().get_user(3)))


def _gc_lists():
    for _ in range(200):
        L = R().get_users(3)
        it = iter(L)
        next(it)
    del L, it
    gc.collect()
    return (R().ping(), len(R().get_users(4)))


def _threads(fn, n_threads, n_calls):
    results = [None] * n_threads
    errors = []

    def worker(k):
        out = []
        try:
            for i in range(n_calls):
                out.append(fn(k, i))
        except Exception as e:  # noqa: BLE001
            errors.append(exc_name(e))
        results[k] = out
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return results, errors


def _threads_echo():
    results, errors = _threads(lambda k, i: R().echo((k, i)), 4, 50)
    ok = all(res == [(k, i) for i in range(50)] for k, res in enumerate(results))
    return (ok, errors)


def _threads_users():
    results, errors = _threads(lambda k, i: R().get_user(k * 100 + i).name, 4, 20)
    ok = all(res == [f"user{k * 100 + i}" for i in range(20)] for k, res in enumerate(results))
    return (ok, errors)


def _threads_nested():
    results, errors = _threads(lambda k, i: R().nested(2, lambda d: d + k), 3, 10)
    ok = all(res == [2 + k] * 10 for k, res in enumerate(results))
    return (ok, errors)


def _threads_own_conns():
    def fn(k, i):
        with fresh() as c:
            return c.root.echo(k * 10 + i)
    results, errors = _threads(fn, 4, 5)
    ok = all(res == [k * 10 + i for i in range(5)] for k, res in enumerate(results))
    return (ok, errors)


P("gc.refs_1000", _gc_refs)
P("gc.lists_200", _gc_lists)
P("threads.echo_4x50", _threads_echo)
P("threads.get_user_4x20", _threads_users)
P("threads.nested_3x10", _threads_nested)
P("threads.own_connections_4x5", _threads_own_conns)

# =========================================================================== 13. connection lifecycle


def _closed_states():
    c = connect()
    before = c.closed
    c.root.ping()
    c.close()
    after = c.closed
    c.close()
    return (before, after, c.closed)


def _call_after_close():
    c = connect()
    root = c.root
    c.close()
    return root.ping()


def _root_after_close():
    c = connect()
    c.close()
    return c.root


def _ref_after_close():
    c = connect()
    u = c.root.get_user(1)
    c.close()
    return u.name


def _two_conns():
    with fresh() as a, fresh() as b:
        ua = a.root.get_user(1)
        r = (a.root.ping(), b.root.ping(), ua.name, b.root.get_user(2).name,
             b.root.echo(ua) is ua, b.root.upload_chunked(a.root.download_chunked(10, 3)),
             b.root.upload(a.root.get_users(3)), repr(b.root.get_user(ua)), a.root is b.root)
        return r


def _with_stmt():
    with rpyc.connect(HOST, PORT) as c:
        v = c.root.ping()
    return (v, c.closed)


def _sequential():
    out = []
    for i in range(10):
        c = connect()
        out.append(c.root.echo(i))
        c.close()
    return out


def _close_pending_async():
    c = connect()
    res = rpyc.async_(c.root.io_work)(0.1)
    c.close()
    return (c.closed, res.ready)


P("conn.closed_states", _closed_states)
P("conn.call_after_close", _call_after_close)
P("conn.root_after_close", _root_after_close)
P("conn.ref_after_close", _ref_after_close)
P("conn.two_at_once", _two_conns)
P("conn.root_identity", lambda: C().root is C().root)
P("conn.with_statement", _with_stmt)
P("conn.sequential_10", _sequential)
P("conn.close_pending_async", _close_pending_async)
P("conn.serve_idle", lambda: C().serve(0.01))
P("conn.fileno_type", lambda: type(C().fileno()).__name__)
P("conn.still_alive", lambda: (R().ping(), R().echo(("end", 1))))

# =========================================================================== 14. stalls

STALL_CALLS = 30
STALL_LIMIT = 0.030


def _stall(action):
    with fresh() as c:
        root = c.root
        for _ in range(2):  # warm-up, not counted (root, class inspection)
            action(root)
        slow = 0
        for _ in range(STALL_CALLS):
            t0 = time.perf_counter()
            action(root)
            if time.perf_counter() - t0 >= STALL_LIMIT:
                slow += 1
        return slow


STALLS = [
    ("nested_2_lambda", lambda r: r.nested(2, lambda x: x)),
    ("echo_object", lambda r: r.echo(object())),
    ("echo_list", lambda r: r.echo([1, 2, 3])),
    ("get_user_name", lambda r: r.get_user(3).name),
    ("get_user_dict_item", lambda r: r.get_user_dict(3)["name"]),
    ("get_users_names", lambda r: [u.name for u in r.get_users(5)]),
    ("upload_chunked_client_list", lambda r: r.upload_chunked([b"x" * 10] * 5)),
    ("download_chunked_list", lambda r: list(r.download_chunked(100000, 10000))),
    ("ping", lambda r: r.ping()),
]
for _name, _fn in STALLS:
    P(f"stall.{_name}", lambda fn=_fn: _stall(fn))


# --------------------------------------------------------------------------- main


def main(argv):
    global PORT
    only = None
    if len(argv) == 4 and argv[2] == "--only":
        only = argv[3]
    elif len(argv) != 2:
        argv = []
    if not argv or not argv[1].isdigit():
        print("usage: python parity_probes.py PORT [--only NAME_PREFIX]", file=sys.stderr)
        return 2
    PORT = int(argv[1])
    for name, fn in PROBES:
        if only is not None and not name.startswith(only):
            continue
        result = run_probe(fn)
        print(json.dumps({"probe": name, "result": result}, sort_keys=True), flush=True)
    drop_shared()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
