#![allow(unused_variables)]
use rpycbench::prelude::*;

struct Shop;

// Every mistake in one block, each reported on its own tokens.
#[rpyc_service]
impl Shop {
    fn restock(&mut self, item: String) {}

    fn price(&self, #[rpyc(default = "cheap")] tier: String) -> f64 {
        1.0
    }

    fn order(&self, #[rpyc(default = 1)] count: i64, item: String) {}

    fn pick<T>(&self, item: T) {}

    fn unpack(&self, (a, b): (i64, i64)) {}
}

fn main() {}
