use rpycbench::prelude::*;

struct A;

#[rpyc_service(name = 3)]
impl A {
    fn ping(&self) {}
}

struct B;

#[rpyc_service(title = "b.B")]
impl B {
    fn ping(&self) {}
}

fn main() {}
