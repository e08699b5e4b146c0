"""Records the request payloads a real rpyc client sends to a native rpycbench server,
one seed file per session, in server_dispatch's input format ([u16 LE length][payload])."""
import struct, sys, rpyc
from rpyc.core import channel

port, outdir = int(sys.argv[1]), sys.argv[2]
sent = []
orig = channel.Channel.send
def send(self, data):
    sent.append(bytes(data))
    return orig(self, data)
channel.Channel.send = send

def session(name, fn):
    sent.clear()
    c = rpyc.connect("127.0.0.1", port)
    try:
        fn(c)
    except Exception as e:
        print(name, "raised", type(e).__name__, e)
    c.close()
    with open(f"{outdir}/{name}", "wb") as f:
        for p in sent:
            if len(p) < 65536:
                f.write(struct.pack("<H", len(p)) + p)

session("ping", lambda c: c.root.ping())
session("echo", lambda c: c.root.echo([1, 2.5, "x", b"y", None, True, (1, 2), {"a": 1}, frozenset([3])]))
def users(c):
    for u in c.root.get_users(3):
        u.name; u.id; repr(u); str(u)
session("users", users)
session("nested", lambda c: c.root.nested(3, lambda n: n + 1))
session("io_work", lambda c: c.root.io_work(0.0))
session("cpu_work", lambda c: c.root.cpu_work(10))
session("download", lambda c: c.root.download(100))
session("upload", lambda c: c.root.upload(b"x" * 100))
def lists(c):
    l = c.root.echo
    r = c.root.get_users(2)
    len(r); r[0]; r == r; dir(r); r + [1]; 1 in r
session("lists", lists)
session("missing", lambda c: c.root.no_such_method())
session("badargs", lambda c: c.root.ping(1, 2, x=3))
def attrs(c):
    c.root.__class__; c.root.__doc__; hasattr(c.root, "ping"); getattr(c.root, "_secret", None)
session("attrs", attrs)
