"""A media store: `fetch(size)` returns `size` bytes of an image (incompressible)."""
import os

import rpyc
from _serve import serve

IMAGE = os.urandom(1 << 20)


class MediaService(rpyc.Service):
    def exposed_fetch(self, size):
        return IMAGE[:size]

    def exposed_store(self, data):
        return len(data)


if __name__ == "__main__":
    serve(MediaService, nodelay=False)
