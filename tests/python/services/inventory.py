"""Inventory: `get_stock(ids)` returns a tuple of (id, name, count) tuples, by value."""
import rpyc
from _serve import serve


class InventoryService(rpyc.Service):
    def exposed_get_stock(self, ids):
        return tuple((i, f"item{i}", i % 11) for i in ids)


if __name__ == "__main__":
    serve(InventoryService)
