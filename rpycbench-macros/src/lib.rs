//! The `#[rpyc_bench]` and `#[rpyc_service]` attributes of
//! [`rpycbench`](https://docs.rs/rpycbench); use them through `rpycbench::prelude::*`,
//! which also brings `Connection`, `Value` and `Result`.
//!
//! The crate follows the shape of dtolnay's `linkme`: this file only parses and
//! dispatches; `args` reads the syntax, `validate` (with `kind`, `server`, `sla` and
//! `signature`) checks it and fills in defaults, collecting every error, and `expand`
//! writes the code. Each error is a `syn::Error` on the offending tokens; rustc checks
//! the types through a typed adapter, so its errors point at the user's code.

mod args;
mod expand;
mod kind;
mod server;
mod service;
mod signature;
mod sla;
mod validate;

use proc_macro::TokenStream;
use quote::ToTokens;

/// Declares a benchmark, registered with the `rpycbench` harness (`rpycbench::main!()`
/// in a `[[test]]` target with `harness = false`).
///
/// ```no_run
/// use rpycbench::prelude::*;
///
/// #[rpyc_bench(latency, requests = 1000, p99_ms = 100)]
/// fn ping(conn: &mut Connection) -> rpycbench::Result<()> {
///     conn.call("ping", ())?;
///     Ok(())
/// }
///
/// #[rpyc_bench(concurrent, clients = 32, servers = [threaded, forking], p99_ms = 50, min_success_rate = 0.99)]
/// fn fetch(conn: &mut Connection) -> rpycbench::Result<()> {
///     conn.call("echo", ("user-1",))?;
///     Ok(())
/// }
///
/// #[rpyc_bench(bandwidth, direction = upload, sizes = [1024, 1_048_576], min_bandwidth_mbps = 50)]
/// fn upload(conn: &mut Connection, data: &Value) -> rpycbench::Result<()> {
///     conn.call("echo", (data.clone(),))?;
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Arguments
///
/// The first argument is the **kind**; the others are `name = value` or, for on/off
/// options, a bare `name`, in any order. Each may appear once. Integers may use `_`
/// (`1_000_000`); numbers may be integers or decimals.
///
/// | kind | function | parameters (default) |
/// |---|---|---|
/// | `latency` | `fn f(conn: &mut Connection)` | `requests` (1000), `warmup` (10), `duration_ms` (none; replaces `requests`) |
/// | `connection` | `fn f(conn: &mut Connection)`, called once per new connection, timed | `connections` (100), `keep_open` (false) |
/// | `bandwidth` | upload: `fn f(conn: &mut Connection, data: &Value)`; download: `fn f(conn: &mut Connection, size: u64)` | `direction = upload \| download` (required), `sizes` (`[1024, 10240, 102400, 1048576]`), `iterations` (10), `warmup` (1) |
/// | `transfer` | as `bandwidth`, one whole transfer per call | `direction` (required), `sizes` (`[1048576, 10485760]`), `chunk_size` (65536), `iterations` (3) |
/// | `concurrent` | `fn f(conn: &mut Connection)`, one request of one client | `clients` (10), `requests_per_client` (100), `rate` (none: closed loop; a total rate in requests per second makes an open loop), `per_client` (false) |
///
/// A parameter left out is not filled in by the attribute: the builder's default applies
/// (`Latency::DEFAULT_REQUESTS` and so on, the values above), so a declared benchmark
/// measures what the same one built by hand would. (Until 0.1's layering work the
/// attribute's own `transfer` default was `[1048576]`; a transfer benchmark that relied
/// on it now also moves 10 MiB: write `sizes = [1_048_576]` to keep the old run.)
///
/// The function returns `()` or any `Result<T, E>` whose `E` implements `Display` and
/// is `'static`, or is `rpycbench::harness::Failed`; an `Err` counts as a failed
/// request. It may not be `async`, `unsafe`, generic over types, or a method. Sizes are
/// a bracketed list of byte counts: `sizes = [1024, 65536]`.
///
/// **Servers.** Without any, the benchmark runs against the native threaded server with
/// the built-in benchmark service. Each server below becomes its own test, named
/// `ping[threaded]` and so on; the options combine.
///
/// - `servers = [threaded, forking, python_threaded, python_forking]` (also as strings,
///   `"python-threaded"`), or `server = forking` for one: built-in modes serving the
///   built-in benchmark service.
/// - `python_service = "module:Class"`: a Python service, imported from `python_path`
///   (a directory relative to the crate's `Cargo.toml`, default `"."`), served by
///   `python_mode = threaded | forking | [threaded, forking]` (default `threaded`).
/// - `rust_service = path::to::make`: a Rust service of yours, `make` being a
///   `fn() -> Arc<S>` for an `S: Service` (or `Arc<dyn Service>`), served natively in a
///   `rust_mode = threaded | forking | [threaded, forking]` server (default `threaded`).
/// - `external = "ENV_VAR"`: an already running server whose `HOST:PORT` is in that
///   environment variable, e.g. a staging server.
/// - `remote = "ENV_VAR"`: when that environment variable is set (to `user@host`, or a
///   Host of `~/.ssh/config`), the built-in and Rust servers start on that host over
///   SSH instead of here, as `rpycbench serve --remote` does; unset, the benchmark runs
///   here and says so. The Python modes run on the remote's interpreter
///   (`RPYCBENCH_REMOTE_PYTHON` names it); not with `python_service`, whose files are
///   not copied there.
///
/// **SLAs** fail the test when not met. Latency bounds are in milliseconds and apply to
/// every kind (connection time for `connection`, time per operation for `bandwidth`
/// and `transfer`): `mean_ms`, `p50_ms`, `p90_ms`, `p95_ms`, `p99_ms`, `p999_ms`,
/// `max_ms`. Also, for every kind, `min_success_rate` (0 to 1); for `latency` and
/// `concurrent`, `min_throughput_rps`, `max_round_trips` and `max_references` (per
/// request, from the wire); for `bandwidth` and `transfer`, `min_bandwidth_mbps`
/// (10^6 bytes per second, for the slowest size). An SLA on a statistic the kind does
/// not measure is a compile error.
///
/// **General.** `regression_pct = 10`: the slowdown against a baseline, in percent,
/// beyond which a significant change fails the test (default: the harness's, 10).
/// `ignore`: run only with `--ignored` or `--include-ignored`.
///
/// ```no_run
/// # use rpycbench::prelude::*;
/// # mod services {
/// #     pub fn make() -> std::sync::Arc<rpycbench::server::BenchmarkService> {
/// #         std::sync::Arc::new(rpycbench::server::BenchmarkService::default())
/// #     }
/// # }
/// #[rpyc_bench(latency, duration_ms = 2_000, python_service = "svc:Svc", python_path = "python",
///              python_mode = [threaded, forking], external = "STAGING_RPYC", p999_ms = 20,
///              max_round_trips = 1, regression_pct = 5, ignore)]
/// fn lookup(conn: &mut Connection) {
///     conn.call("lookup", ("key",)).expect("lookup");
/// }
///
/// #[rpyc_bench(transfer, direction = download, sizes = [10_485_760], chunk_size = 1_048_576,
///              rust_service = crate::services::make, rust_mode = forking)]
/// fn fetch_file(conn: &mut Connection, size: u64) -> rpycbench::Result<()> {
///     conn.call("download", (size,)).map(drop)
/// }
/// # fn main() {}
/// ```
///
/// Every mistake is a compile error on the offending token that says what is allowed:
/// an unknown or repeated option, a wrong value, a missing `direction`, an SLA the kind
/// does not measure, or a signature that does not fit the kind.
#[proc_macro_attribute]
pub fn rpyc_bench(args: TokenStream, input: TokenStream) -> TokenStream {
    let func = match syn::parse::<syn::Item>(input) {
        Ok(syn::Item::Fn(func)) => func,
        Ok(other) => {
            let msg = "#[rpyc_bench] goes on a function, e.g. `fn ping(conn: &mut Connection)`";
            let error = syn::Error::new_spanned(&other, msg).into_compile_error();
            return quote::quote!(#error #other).into();
        }
        Err(error) => return error.into_compile_error().into(),
    };
    let bench = syn::parse::<args::Args>(args).and_then(|args| validate::validate(args, &func));
    match bench {
        Ok(bench) => expand::expand(&func, &bench).into(),
        // The function is kept, so that its uses do not add "cannot find" errors.
        Err(error) => {
            let mut out = error.into_compile_error();
            func.to_tokens(&mut out);
            out.into()
        }
    }
}

/// Exposes the methods of an `impl` block as an RPyC service: it implements
/// `rpycbench::server::Service` for the type, with typed arguments bound as CPython binds
/// a call (positional or by keyword, defaults, its `TypeError` texts).
///
/// ```
/// use rpycbench::prelude::*;
/// use std::collections::HashMap;
///
/// struct Inventory {
///     stock: HashMap<String, i64>,
/// }
///
/// /// Stock levels by item name.
/// #[rpyc_service(name = "inventory.Inventory")]
/// impl Inventory {
///     /// `conn.root.stock("widget")`: 0 for an unknown item.
///     fn stock(&self, item: String) -> i64 {
///         self.stock.get(&item).copied().unwrap_or(0)
///     }
///
///     /// `restock(item, count=1)`; errors travel to the caller as exceptions.
///     fn restock(&self, item: String, #[rpyc(default = 1)] count: i64) -> rpycbench::Result<i64> {
///         if count < 0 {
///             return Err(Error::raise("ValueError", "count must not be negative"));
///         }
///         Ok(self.stock.get(&item).copied().unwrap_or(0) + count)
///     }
///
///     /// A method may take the connection first, to call back into the client.
///     fn ask(&self, conn: &mut Connection, callback: RemoteRef) -> rpycbench::Result<Object> {
///         conn.call_ref(&callback, (), Vec::new())
///     }
/// }
/// # fn main() {}
/// ```
///
/// Every method taking `&self` is exposed under its own name (clients may also say
/// `exposed_NAME`, as RPyC's default policy allows); put helpers in another `impl`
/// block. After `&self` a method may take `&mut Connection`; each other parameter is
/// a Python parameter of a type that converts from an object (`i64`, `f64`, `bool`,
/// `String`, `Vec<u8>`, `Value`, `Object`, `RemoteRef`, tuples, …). An `Option<T>`
/// parameter may be left out (`None`), and so may one marked `#[rpyc(default = 1)]`
/// (a number or a bool). A method returns anything that converts into an object
/// (`()` is `None`), or a `rpycbench::Result` of it, whose error the client sees as an
/// exception.
///
/// `name` is the service's `"module.Class"` as Python names it (default: the crate's
/// name and the type's); `doc = EXPR` sets the class docstring (default: the block's
/// doc comment).
#[proc_macro_attribute]
pub fn rpyc_service(args: TokenStream, input: TokenStream) -> TokenStream {
    let block = match syn::parse::<syn::Item>(input) {
        Ok(syn::Item::Impl(block)) => block,
        Ok(other) => {
            let msg = "#[rpyc_service] goes on an `impl` block: `#[rpyc_service] impl MyService { fn ping(&self) {} }`";
            let error = syn::Error::new_spanned(&other, msg).into_compile_error();
            return quote::quote!(#error #other).into();
        }
        Err(error) => return error.into_compile_error().into(),
    };
    match syn::parse::<service::ServiceArgs>(args) {
        Ok(args) => service::expand(args, block).into(),
        Err(error) => {
            let mut out = error.into_compile_error();
            block.to_tokens(&mut out);
            out.into()
        }
    }
}
