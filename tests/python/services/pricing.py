"""Pricing: `quote(n)` computes a price in pure Python, about 10 ms of CPU per call.

Usage: python pricing.py [--forking]  -- serves on 127.0.0.1, an ephemeral port, with
a ThreadedServer (or a ForkingServer), and prints "listening on 127.0.0.1:PORT" once it
accepts.
"""
import sys
import time

import rpyc
from _serve import serve


def _work(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(1000):
            x = (x * 31 + i) % 1000003
    return x


class PricingService(rpyc.Service):
    def exposed_quote(self, n):
        return (n, _work(0.01))


if __name__ == "__main__":
    serve(PricingService, forking="--forking" in sys.argv[1:])
