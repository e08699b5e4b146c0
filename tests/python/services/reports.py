"""Reports: `render(n)` waits 20 ms on its backend (a query) and returns a summary."""
import time

import rpyc
from _serve import serve


class ReportService(rpyc.Service):
    def exposed_render(self, n):
        time.sleep(0.02)
        return (n, "ok")


if __name__ == "__main__":
    serve(ReportService)
