"""A product catalog: `get_products(n)` returns product objects (by reference)."""
import rpyc
from _serve import serve


class Product:
    def __init__(self, i):
        self.exposed_name = f"product{i}"
        self.exposed_price = 10 + i
        self.exposed_stock = i % 7


class CatalogService(rpyc.Service):
    def exposed_get_products(self, n):
        return [Product(i) for i in range(n)]

    def exposed_ping(self):
        return None


if __name__ == "__main__":
    serve(CatalogService)
