use rpycbench::prelude::*;

#[rpyc_service]
fn ping() {}

fn main() {}
