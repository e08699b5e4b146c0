//! Server options: built-in modes, a Python service, a Rust service of the user's, and an
//! external address. Every server they name becomes its own test (`ping[threaded]`).

use crate::args::Opt;
use crate::validate::Errors;
use syn::{Error, Ident, LitStr, Path, Result};

/// The server options, in the order the docs list them.
pub(crate) const OPTIONS: &[&str] = &[
    "server",
    "servers",
    "python_service",
    "python_path",
    "python_mode",
    "rust_service",
    "rust_mode",
    "external",
    "remote",
];

const BUILTIN: &[&str] = &["threaded", "forking", "python_threaded", "python_forking"];
const FLAVOURS: &[&str] = &["threaded", "forking"];

/// A `ServerMode` variant name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Mode(pub &'static str);

/// One server to run against.
pub(crate) enum Server {
    Builtin(Mode),
    Python { service: LitStr, path: String, mode: Mode },
    Rust { factory: Path, mode: Mode },
    External { env: LitStr },
}

/// The server options as given, checked against each other by [`Servers::finish`].
#[derive(Default)]
pub(crate) struct Servers {
    builtin: Option<(Ident, Vec<Mode>)>,
    python_service: Option<LitStr>,
    python_path: Option<(Ident, LitStr)>,
    python_mode: Option<(Ident, Vec<Mode>)>,
    rust_service: Option<Path>,
    rust_mode: Option<(Ident, Vec<Mode>)>,
    external: Option<LitStr>,
    remote: Option<(Ident, LitStr)>,
}

fn mode_of(word: &str) -> Mode {
    Mode(match word {
        "threaded" => "Threaded",
        "forking" => "Forking",
        "python_threaded" => "PythonThreaded",
        _ => "PythonForking",
    })
}

/// Modes from a list, refusing repeats (they would make two tests of the same name).
fn modes(opt: &Opt, allowed: &[&str], example: &str) -> Result<Vec<Mode>> {
    let mut errors = Errors::default();
    let mut modes = Vec::new();
    for (word, span) in opt.words("server mode", allowed, example)? {
        match mode_of(&word) {
            m if modes.contains(&m) => errors.push(Error::new(span, format!("`{word}` is listed twice"))),
            m => modes.push(m),
        }
    }
    errors.finish().map(|()| modes)
}

fn is_module_class(spec: &str) -> bool {
    let ident = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_') && chars.all(|c| c.is_alphanumeric() || c == '_')
    };
    match spec.split_once(':') {
        Some((module, class)) => module.split('.').all(ident) && ident(class),
        None => false,
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An option that needs another one, given without it.
fn orphan(errors: &mut Errors, option: Option<&Ident>, needs: &str) {
    if let Some(ident) = option {
        errors.push(Error::new(ident.span(), format!("`{ident}` only applies with `{needs}`")));
    }
}

impl Servers {
    /// Reads one of [`OPTIONS`].
    pub fn set(&mut self, opt: &Opt) -> Result<()> {
        match opt.key().as_str() {
            key @ ("server" | "servers") => {
                if let Some((first, _)) = &self.builtin {
                    let msg = format!("`{key}` repeats `{first}`: list every built-in mode in one `servers = [...]`");
                    return Err(Error::new(opt.name.span(), msg));
                }
                let list = modes(opt, BUILTIN, "servers = [threaded, forking]")?;
                if key == "server" && list.len() > 1 {
                    let msg = "`server` takes one mode; write `servers = [...]` for several";
                    return Err(Error::new_spanned(&opt.value, msg));
                }
                self.builtin = Some((opt.name.clone(), list));
            }
            "python_service" => {
                let spec = opt.string("python_service = \"my_service:MyService\"")?;
                if !is_module_class(&spec.value()) {
                    let msg = "expected `module:Class`, e.g. `python_service = \"my_service:MyService\"` \
                               (the module is found on `python_path`)";
                    return Err(Error::new(spec.span(), msg));
                }
                self.python_service = Some(spec);
            }
            "python_path" => {
                self.python_path = Some((opt.name.clone(), opt.string("python_path = \"python\"")?));
            }
            "python_mode" => {
                self.python_mode = Some((opt.name.clone(), modes(opt, FLAVOURS, "python_mode = forking")?));
            }
            "rust_service" => self.rust_service = Some(opt.path("rust_service = crate::services::make")?),
            "rust_mode" => self.rust_mode = Some((opt.name.clone(), modes(opt, FLAVOURS, "rust_mode = forking")?)),
            "external" => {
                let env = opt.string("external = \"STAGING_RPYC_ADDR\"")?;
                if !is_env_name(&env.value()) {
                    let msg = "expected the name of an environment variable that holds `HOST:PORT`, \
                               e.g. `external = \"STAGING_RPYC_ADDR\"`";
                    return Err(Error::new(env.span(), msg));
                }
                self.external = Some(env);
            }
            "remote" => {
                let env = opt.string("remote = \"RPYCBENCH_REMOTE\"")?;
                if !is_env_name(&env.value()) {
                    let msg = "expected the name of an environment variable that holds the host to start the \
                               servers on (`user@host`, or a Host of ~/.ssh/config), e.g. \
                               `remote = \"RPYCBENCH_REMOTE\"`";
                    return Err(Error::new(env.span(), msg));
                }
                self.remote = Some((opt.name.clone(), env));
            }
            other => unreachable!("`{other}` is not a server option"),
        }
        Ok(())
    }

    /// Every server, built-in modes first, then Python, Rust and external ones (empty
    /// means the harness's default, the native threaded server), and the environment
    /// variable naming the host they start on, if any.
    pub fn finish(self, errors: &mut Errors) -> (Vec<Server>, Option<LitStr>) {
        if let Some((ident, _)) = &self.remote {
            if self.python_service.is_some() {
                let msg = "`remote` starts the built-in (native and Python) and Rust servers on another host, \
                           but a Python service's files are not copied there: use it without `python_service`";
                errors.push(Error::new(ident.span(), msg));
            } else if self.external.is_some() && self.builtin.is_none() && self.rust_service.is_none() {
                let msg = "`remote` says where the servers rpycbench starts run; an `external` server is \
                           already running: name a built-in or Rust server too, or drop `remote`";
                errors.push(Error::new(ident.span(), msg));
            }
        }
        let remote = self.remote.map(|(_, env)| env);
        let mut servers = Vec::new();
        if let Some((_, modes)) = self.builtin {
            servers.extend(modes.into_iter().map(Server::Builtin));
        }
        match self.python_service {
            Some(service) => {
                // The manifest directory itself, so a module next to Cargo.toml imports.
                let path = self.python_path.map_or_else(|| ".".to_owned(), |(_, p)| p.value());
                let flavours = self.python_mode.map_or_else(|| vec![Mode("Threaded")], |(_, m)| m);
                for Mode(flavour) in flavours {
                    let mode = Mode(if flavour == "Threaded" { "PythonThreaded" } else { "PythonForking" });
                    servers.push(Server::Python { service: service.clone(), path: path.clone(), mode });
                }
            }
            None => {
                orphan(errors, self.python_path.as_ref().map(|(i, _)| i), "python_service");
                orphan(errors, self.python_mode.as_ref().map(|(i, _)| i), "python_service");
            }
        }
        match self.rust_service {
            Some(factory) => {
                let modes = self.rust_mode.map_or_else(|| vec![Mode("Threaded")], |(_, m)| m);
                servers.extend(modes.into_iter().map(|mode| Server::Rust { factory: factory.clone(), mode }));
            }
            None => orphan(errors, self.rust_mode.as_ref().map(|(i, _)| i), "rust_service"),
        }
        servers.extend(self.external.map(|env| Server::External { env }));
        (servers, remote)
    }
}
