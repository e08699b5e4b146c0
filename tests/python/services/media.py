"""A media store: `fetch(size)` returns `size` bytes of an image (incompressible).

Served as rpyc serves by default (no TCP_NODELAY), or with `--nodelay` as the diagnosis
advises: the test checks the advice removes the stall.
"""
import os
import sys

import rpyc
from _serve import serve

IMAGE = os.urandom(1 << 20)


class MediaService(rpyc.Service):
    def exposed_fetch(self, size):
        return IMAGE[:size]

    def exposed_store(self, data):
        return len(data)


if __name__ == "__main__":
    serve(MediaService, nodelay="--nodelay" in sys.argv)
