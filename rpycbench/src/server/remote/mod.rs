//! Native (and Python-backed) servers started on another host over SSH.
//!
//! The system `ssh` client does all the talking, so the user's keys, agent, ProxyJump
//! and ControlMaster settings apply as they do for everything else. One master
//! connection ([`RemoteSession`]) carries every command of a session: probing the
//! remote, copying the binary, running the server and forwarding its port.
//!
//! - `ssh`: the session (the master connection and commands over it);
//! - `deploy`: checking the remote's OS and architecture, copying the binary that runs
//!   native servers, cached by content hash;
//! - `server`: starting `rpycbench serve` there, reaching it through a tunnel or
//!   directly, and making it die with the session;
//! - `probe`: the server's companion there, sampling its processes from the remote's
//!   /proc and echoing the network's round trips over the same path.

mod deploy;
mod probe;
mod server;
mod ssh;

pub use deploy::{Deployment, Platform};
pub(crate) use probe::{serve_companion, COMPANION_MODE};
pub use probe::{RemoteProbe, RemoteSample};
#[cfg(feature = "http")]
pub(crate) use server::Launch;
pub use server::{RemoteServer, Via};
pub use ssh::{RemoteSession, RemoteSpec};

use std::path::PathBuf;
use std::time::Duration;

/// Why a remote server could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The `ssh` client is not installed (or not on the PATH).
    #[error("cannot run the ssh client ({program}): {source}; install OpenSSH's client (e.g. apt-get install openssh-client)")]
    SshMissing {
        /// What was run.
        program: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The remote refused the key (or no key was offered).
    #[error("ssh to {destination} was refused (authentication failed); ssh said:\n{stderr}\nssh runs in batch mode (no password prompt): use a key in your agent or ~/.ssh/config, or --remote-identity FILE")]
    AuthFailed {
        /// Where we tried to go.
        destination: String,
        /// What ssh printed.
        stderr: String,
    },
    /// The connection failed for another reason (unknown host, refused, timed out).
    #[error("cannot connect to {destination} over ssh; ssh said:\n{stderr}")]
    Connect {
        /// Where we tried to go.
        destination: String,
        /// What ssh printed.
        stderr: String,
    },
    /// A command over the session failed.
    #[error("`{command}` on {destination} failed ({status}); it said:\n{stderr}")]
    Command {
        /// Where it ran.
        destination: String,
        /// The remote command (what it was for).
        command: String,
        /// How it ended.
        status: String,
        /// What it printed.
        stderr: String,
    },
    /// A command over the session did not finish in time.
    #[error("`{command}` on {destination} did not finish within {after:?}")]
    Timeout {
        /// Where it ran.
        destination: String,
        /// The remote command.
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// The remote is another OS or architecture than this binary was built for.
    #[error("{destination} runs {remote}, but this rpycbench binary is built for {local}: it cannot be copied there. Install rpycbench on {destination} (built for {remote}) and pass --remote-use-path to use the one on its PATH")]
    PlatformMismatch {
        /// Where.
        destination: String,
        /// What `uname -sm` said there, normalised.
        remote: Platform,
        /// What this binary is.
        local: Platform,
    },
    /// No binary to run there: the platforms differ and none is on the remote PATH.
    #[error("{destination} runs {remote} (this binary is built for {local}) and has no rpycbench on its PATH: install one there built for {remote}")]
    NoBinary {
        /// Where.
        destination: String,
        /// The remote platform.
        remote: Platform,
        /// This binary's platform.
        local: Platform,
    },
    /// The binary to copy could not be read.
    #[error("cannot read {}: {source}", path.display())]
    LocalBinary {
        /// The binary.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The local side of the work (a pipe, a temporary directory) failed.
    #[error("{what}: {source}")]
    Local {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The remote server exited before it was ready.
    #[error("the {server} server on {destination} exited before it was ready ({status}); its stderr:\n{stderr}")]
    Exited {
        /// The server (its mode's name).
        server: &'static str,
        /// Where.
        destination: String,
        /// How its session ended.
        status: String,
        /// What it printed (and ssh, if the session itself failed).
        stderr: String,
    },
    /// The remote server did not say `listening on …` in time.
    #[error("the {server} server on {destination} was not ready within {after:?}; its stderr:\n{stderr}")]
    NotReady {
        /// The server (its mode's name).
        server: &'static str,
        /// Where.
        destination: String,
        /// The timeout.
        after: Duration,
        /// What it printed.
        stderr: String,
    },
    /// The remote server printed something other than the readiness line.
    #[error("the server on {destination} printed {line:?} instead of `listening on HOST:PORT`")]
    Readiness {
        /// Where.
        destination: String,
        /// The line.
        line: String,
    },
    /// The port forward could not be set up.
    #[error("cannot forward a local port to {target} on {destination}; ssh said:\n{stderr}")]
    Forward {
        /// Where.
        destination: String,
        /// The remote address.
        target: String,
        /// What ssh printed.
        stderr: String,
    },
}

/// Quotes `s` for a POSIX shell: the remote command is one string that the remote
/// user's shell parses, so every value we put in it is quoted.
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b)) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoting() {
        assert_eq!(super::shell_quote("127.0.0.1"), "127.0.0.1");
        assert_eq!(super::shell_quote(""), "''");
        assert_eq!(super::shell_quote("a b"), "'a b'");
        assert_eq!(super::shell_quote("it's"), r"'it'\''s'");
        assert_eq!(super::shell_quote("$HOME"), "'$HOME'");
    }
}
