//! The benchmark kinds, their parameters, and the function each one calls.
//!
//! Only what the user wrote is emitted: a parameter left out is `None`, and the
//! builder's default applies (`Latency::DEFAULT_REQUESTS`, …), so a benchmark declared
//! with the attribute measures what the same benchmark built by hand would, from one
//! table of defaults, the engine's.

use crate::args::Opt;
use proc_macro2::Span;
use syn::{Error, Ident, Result};

/// The first word of the attribute.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum KindName {
    Latency,
    Connection,
    Bandwidth,
    Transfer,
    Concurrent,
}

pub(crate) const KINDS: &[KindName] =
    &[KindName::Latency, KindName::Connection, KindName::Bandwidth, KindName::Transfer, KindName::Concurrent];

impl KindName {
    pub fn parse(word: &str) -> Option<Self> {
        KINDS.iter().copied().find(|k| k.name() == word)
    }

    pub fn name(self) -> &'static str {
        match self {
            KindName::Latency => "latency",
            KindName::Connection => "connection",
            KindName::Bandwidth => "bandwidth",
            KindName::Transfer => "transfer",
            KindName::Concurrent => "concurrent",
        }
    }

    /// The kind's own parameters.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            KindName::Latency => &["requests", "warmup", "duration_ms"],
            KindName::Connection => &["connections", "keep_open"],
            KindName::Bandwidth => &["direction", "sizes", "iterations", "warmup"],
            KindName::Transfer => &["direction", "sizes", "chunk_size", "iterations"],
            KindName::Concurrent => &["clients", "requests_per_client", "rate", "per_client"],
        }
    }

    /// Whether the function gets a payload or a size besides the connection.
    pub fn has_direction(self) -> bool {
        matches!(self, KindName::Bandwidth | KindName::Transfer)
    }
}

/// A kind with the parameters the user set.
pub(crate) enum Params {
    Latency { requests: Option<u64>, warmup: Option<u64>, duration_ms: Option<u64> },
    Connection { connections: Option<u64>, keep_open: bool },
    Bandwidth { sizes: Option<Vec<u64>>, iterations: Option<u32>, warmup: Option<u32> },
    Transfer { sizes: Option<Vec<u64>>, chunk_size: Option<u64>, iterations: Option<u32> },
    Concurrent { clients: Option<u32>, requests_per_client: Option<u64>, rate: Option<f64>, per_client: bool },
}

/// What the user's function takes besides the connection, hence which `BenchFn`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Shape {
    Request,
    Upload,
    Download,
}

/// The kind's parameters as the options set them.
pub(crate) struct KindArgs {
    pub name: KindName,
    span: Span,
    params: Params,
    shape: Option<Shape>,
    requests: Option<Span>,
    duration: Option<Span>,
}

const U32: u64 = u32::MAX as u64;

impl KindArgs {
    /// The kind with nothing set (the builder's defaults).
    pub fn new(name: KindName, ident: &Ident) -> Self {
        let params = match name {
            KindName::Latency => Params::Latency { requests: None, warmup: None, duration_ms: None },
            KindName::Connection => Params::Connection { connections: None, keep_open: false },
            KindName::Bandwidth => Params::Bandwidth { sizes: None, iterations: None, warmup: None },
            KindName::Transfer => Params::Transfer { sizes: None, chunk_size: None, iterations: None },
            KindName::Concurrent => {
                Params::Concurrent { clients: None, requests_per_client: None, rate: None, per_client: false }
            }
        };
        let shape = (!name.has_direction()).then_some(Shape::Request);
        KindArgs { name, span: ident.span(), params, shape, requests: None, duration: None }
    }

    /// Sets one of [`KindName::params`].
    pub fn set(&mut self, opt: &Opt) -> Result<()> {
        let key = opt.key();
        match (&mut self.params, key.as_str()) {
            (_, "direction") => {
                let (word, _) = opt.word("direction", &["upload", "download"], "direction = upload")?;
                self.shape = Some(if word == "upload" { Shape::Upload } else { Shape::Download });
            }
            (Params::Latency { requests, .. }, "requests") => {
                *requests = Some(opt.count(1, u64::MAX, "requests = 1000")?);
                self.requests = Some(opt.name.span());
            }
            (Params::Latency { warmup, .. }, "warmup") => *warmup = Some(opt.count(0, u64::MAX, "warmup = 10")?),
            (Params::Latency { duration_ms, .. }, "duration_ms") => {
                *duration_ms = Some(opt.count(1, u64::MAX, "duration_ms = 5000")?);
                self.duration = Some(opt.name.span());
            }
            (Params::Connection { connections, .. }, "connections") => {
                *connections = Some(opt.count(1, u64::MAX, "connections = 100")?);
            }
            (Params::Connection { keep_open, .. }, "keep_open") => *keep_open = opt.flag()?,
            (Params::Bandwidth { sizes, .. } | Params::Transfer { sizes, .. }, "sizes") => {
                *sizes = Some(opt.sizes("sizes = [1024, 1048576]")?);
            }
            (Params::Bandwidth { iterations, .. } | Params::Transfer { iterations, .. }, "iterations") => {
                *iterations = Some(opt.count(1, U32, "iterations = 10")? as u32);
            }
            (Params::Bandwidth { warmup, .. }, "warmup") => *warmup = Some(opt.count(0, U32, "warmup = 1")? as u32),
            (Params::Transfer { chunk_size, .. }, "chunk_size") => {
                *chunk_size = Some(opt.count(1, u64::MAX, "chunk_size = 65536")?);
            }
            (Params::Concurrent { clients, .. }, "clients") => {
                *clients = Some(opt.count(1, U32, "clients = 10")? as u32)
            }
            (Params::Concurrent { requests_per_client, .. }, "requests_per_client") => {
                *requests_per_client = Some(opt.count(1, u64::MAX, "requests_per_client = 100")?);
            }
            (Params::Concurrent { rate, .. }, "rate") => {
                let r = opt.number("rate = 500.0")?;
                if r <= 0.0 {
                    let msg = "`rate` is the total open-loop rate in requests per second and must be above 0";
                    return Err(Error::new_spanned(&opt.value, msg));
                }
                *rate = Some(r);
            }
            (Params::Concurrent { per_client, .. }, "per_client") => *per_client = opt.flag()?,
            // `validate` hands over only the names in `self.name.params()`.
            (_, other) => unreachable!("`{other}` is not a {} parameter", self.name.name()),
        }
        Ok(())
    }

    /// The function's shape, once `direction` is known.
    pub fn shape(&self) -> Option<Shape> {
        self.shape
    }

    /// The parameters, after the checks that involve several options.
    pub fn finish(self) -> Result<Params> {
        let mut errors = crate::validate::Errors::default();
        if self.shape.is_none() {
            let msg = format!(
                "a {} benchmark needs a direction: `direction = upload` for a function \
                 `(conn: &mut Connection, data: &Value)` that sends the payload, or \
                 `direction = download` for a function `(conn: &mut Connection, size: u64)` \
                 that fetches `size` bytes",
                self.name.name()
            );
            errors.push(Error::new(self.span, msg));
        }
        if let (Some(_), Some(duration)) = (self.requests, self.duration) {
            let msg = "`duration_ms` runs for a time instead of a number of requests: give `requests` or `duration_ms`, not both";
            errors.push(Error::new(duration, msg));
        }
        errors.finish().map(|()| self.params)
    }
}
