//! `--remote user@host` and its companions: the options that put a command's servers on
//! another host over SSH (see `server::remote`).

use crate::server::remote::{RemoteServer, RemoteSession, RemoteSpec, Via};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RemoteArgs {
    /// Run the server on this host over SSH: user@host, host, or a Host from
    /// ~/.ssh/config (keys, agent, ProxyJump and the rest come from there). The
    /// server is reached through an SSH tunnel unless --remote-bind is given.
    #[arg(long, value_name = "DESTINATION")]
    pub(crate) remote: Option<String>,
    /// The remote's ssh port (default: as your ssh configuration says, else 22).
    #[arg(long, value_name = "PORT", requires = "remote")]
    pub(crate) remote_port: Option<u16>,
    /// The private key to log in with (ssh -i).
    #[arg(long, value_name = "FILE", requires = "remote")]
    pub(crate) remote_identity: Option<PathBuf>,
    /// Bind the remote server to this address and connect to it directly, instead of
    /// through a tunnel (no tunnel latency, but the port is open on that address).
    #[arg(long, value_name = "HOST", requires = "remote")]
    pub(crate) remote_bind: Option<String>,
    /// When this binary cannot run on the remote (another OS or architecture), use the
    /// rpycbench on the remote's PATH.
    #[arg(long, requires = "remote")]
    pub(crate) remote_use_path: bool,
    /// An ssh option for the session, as ssh -o takes it (repeatable), e.g.
    /// StrictHostKeyChecking=accept-new.
    #[arg(long = "remote-ssh-option", value_name = "KEY=VALUE", requires = "remote")]
    pub(crate) remote_ssh_options: Vec<String>,
}

impl RemoteArgs {
    /// The session's spec, when `--remote` was given.
    pub(crate) fn spec(&self) -> Option<RemoteSpec> {
        let destination = self.remote.clone()?;
        let mut spec = RemoteSpec::new(destination);
        spec.port = self.remote_port;
        spec.identity.clone_from(&self.remote_identity);
        spec.bind.clone_from(&self.remote_bind);
        spec.use_path = self.remote_use_path;
        spec.ssh_args = self.remote_ssh_options.iter().flat_map(|o| ["-o".to_owned(), o.clone()]).collect();
        Some(spec)
    }

    /// Opens the session, when `--remote` was given.
    pub(crate) fn connect(&self) -> Result<Option<Arc<RemoteSession>>, Box<dyn std::error::Error>> {
        Ok(self.spec().map(|s| s.connect()).transpose()?)
    }
}

/// `threaded server on HOST (pid N, ADDR there, linux x86_64), reached through an SSH
/// tunnel; runs this binary, copied now`, and a note when its companion could not start.
pub(crate) fn describe(name: &str, server: &RemoteServer) -> String {
    let deployed = server.deployment();
    let binary = match (deployed.from_path, deployed.copied) {
        (true, _) => "the rpycbench on its PATH",
        (false, true) => "this binary, copied now",
        (false, false) => "this binary, already copied",
    };
    let mut line = format!(
        "{name} server on {} (pid {}, {} there, {}), reached {}; runs {binary}",
        server.destination(),
        server.remote_pid(),
        server.remote_addr(),
        deployed.platform,
        match server.via() {
            Via::Tunnel => "through an SSH tunnel",
            Via::Direct => "directly",
        },
    );
    if let Err(why) = server.probe() {
        line.push_str(&format!(
            "; no CPU, memory or network figures from there (its companion did not start: {})",
            why.lines().next().unwrap_or(why)
        ));
    }
    line
}
