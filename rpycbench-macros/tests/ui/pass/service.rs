//! `#[rpyc_service]` with every form it takes.
use rpycbench::client::RemoteRef;
use rpycbench::prelude::*;

struct Counter<T> {
    start: T,
}

/// A docstring.
#[rpyc_service(name = "counter.Counter")]
impl<T: Copy + Into<i64> + Send + Sync + 'static> Counter<T> {
    fn nothing(&self) {}
    fn unit(&self) -> () {}
    fn checked(&self, ok: bool) -> rpycbench::Result<()> {
        if ok {
            Ok(())
        } else {
            Err(Error::raise("ValueError", "not ok"))
        }
    }
    fn start(&self) -> i64 {
        self.start.into()
    }
    fn add(&self, a: i64, #[rpyc(default = -1)] b: i64, #[rpyc(default = 0.5)] c: f64, #[rpyc(default = true)] d: bool) -> f64 {
        (a + b) as f64 * c * f64::from(u8::from(d))
    }
    fn r#type(&self, name: Option<String>) -> String {
        name.unwrap_or_default()
    }
    fn call_back(&self, conn: &mut Connection, cb: RemoteRef) -> rpycbench::Result<Object> {
        conn.call_ref(&cb, (), Vec::new())
    }
    fn bytes(&self, data: Vec<u8>, value: Value) -> (usize, Value) {
        (data.len(), value)
    }
    fn any(&self, any: Object) -> Object {
        any
    }
    fn parsed(&self, text: String) -> Result<i64, rpycbench::harness::Failed> {
        Ok(text.parse::<i64>()?)
    }
}

impl<T> Counter<T> {
    fn helper(&self) {}
}

fn main() {
    let _: &dyn Service = &Counter { start: 1u8 };
    Counter { start: 1u8 }.helper();
}
