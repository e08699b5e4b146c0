use rpycbench::prelude::*;

#[rpyc_bench(latency)]
struct Ping;

fn main() {}
