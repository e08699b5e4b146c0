use rpycbench::prelude::*;

struct Shop;

#[rpyc_service]
impl Shop {
    fn weigh(&self, _item: Shop) -> i64 {
        1
    }

    fn wrap(&self) -> Shop {
        Shop
    }
}

fn main() {}
