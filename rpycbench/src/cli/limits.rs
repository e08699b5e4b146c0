//! The connection flags `serve` and `proxy` share: a cap on connections at once, and how
//! long a connection may stay silent.

use crate::client::SilenceLimits;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args)]
pub(crate) struct ConnectionLimitArgs {
    /// Serve at most N connections at once; more are accepted and closed immediately.
    /// Default: 1000, or fewer if the open-files limit (ulimit -n) is lower (the relay
    /// counts two descriptors a connection); `serve`'s Python modes have no cap unless
    /// given one, as rpyc's servers.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Close a connection whose peer sent part of a frame and then nothing for this long,
    /// or took none of what it was sent for this long (e.g. 30s, 2m; "off" never).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    stall_timeout: Silence,
    /// Close a connection with no traffic at all for this long ("off", the default,
    /// never: Python's ThreadedServer waits for idle clients forever). With
    /// --max-connections, silent clients hold their slots until this limit frees them.
    #[arg(long, value_name = "DURATION", default_value = "off")]
    idle_timeout: Silence,
}

impl ConnectionLimitArgs {
    /// The cap given, if any (the caller has the default).
    pub(crate) fn max_connections(&self) -> Option<usize> {
        self.max_connections.map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// The silence limits given.
    pub(crate) fn silence(&self) -> SilenceLimits {
        SilenceLimits { stall: self.stall_timeout.0, idle: self.idle_timeout.0 }
    }
}

/// A silence limit on the command line: a duration (`30s`, `2m`) or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Silence(Option<Duration>);

impl std::str::FromStr for Silence {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(Silence(None));
        }
        match humantime::parse_duration(s) {
            Ok(d) if d.is_zero() => Err("a zero limit would close every connection; use \"off\" for none".into()),
            Ok(d) => Ok(Silence(Some(d))),
            Err(e) => Err(format!("{e} (a duration such as 30s or 2m, or off)")),
        }
    }
}
