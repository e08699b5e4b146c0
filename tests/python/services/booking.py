"""A booking service for the diagnosis tests: `book` holds one of two slots for 10 ms
(a 2-connection backend pool, as a semaphore), `lookup` takes 10 ms with no slot.

Usage: python booking.py  -- serves on 127.0.0.1, an ephemeral port, and prints
"listening on 127.0.0.1:PORT" once it accepts.
"""
import sys
import threading
import time

import rpyc
from _serve import serve

SLOTS = threading.Semaphore(2)


class BookingService(rpyc.Service):
    def exposed_book(self, seat):
        with SLOTS:
            time.sleep(0.01)
        return (seat, "booked")

    def exposed_lookup(self, seat):
        time.sleep(0.01)
        return (seat, "free")


if __name__ == "__main__":
    serve(BookingService)
