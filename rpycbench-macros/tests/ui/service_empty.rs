use rpycbench::prelude::*;

struct Empty;

#[rpyc_service]
impl Empty {
    fn new() -> Self {
        Empty
    }
}

fn main() {}
