"""The built-in benchmark service with a slower ``io_work``: the candidate of the
noise-proof script's A/B pairs (``scripts/noise-proof``).

``io_work(delay)`` sleeps ``delay * RPYCBENCH_SLOWDOWN`` (default 1.0, the unchanged
service), so one Python module serves both sides of an A/B comparison and only the
factor differs.
"""

import os
import time

from rpycbench_service import BenchmarkService

FACTOR = float(os.environ.get("RPYCBENCH_SLOWDOWN", "1.0"))


class SlowerService(BenchmarkService):
    def exposed_io_work(self, delay=0.01):
        # The twin's own checks and answer, with the sleep stretched.
        if delay < 0:
            raise ValueError("delay must not be negative")
        time.sleep(delay * FACTOR)
        return "data"
