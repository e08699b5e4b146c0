//! The HTTP baseline's server process, started from any binary: the same `.init_array`
//! hook as the native RPyC servers' (see `server/child.rs`, whose parts it uses), for
//! `serve --mode http`, which that hook leaves alone. It lives here because only this
//! layer knows HTTP; it is linked exactly when [`HttpServerSpec::start`] is.
//!
//! [`HttpServerSpec::start`]: super::HttpServerSpec::start

use crate::server::child::{consume_request, parse, serve_in_hook, serve_request_args};

/// The mode name this hook serves.
pub(super) const MODE: &str = "http";

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static SERVE_HTTP_BEFORE_MAIN: extern "C" fn() = serve_http_before_main;

/// Makes sure the hook is linked into any binary that starts HTTP baseline servers.
pub(super) fn link_hook() {
    #[cfg(target_os = "linux")]
    std::hint::black_box(&SERVE_HTTP_BEFORE_MAIN);
}

#[cfg(target_os = "linux")]
extern "C" fn serve_http_before_main() {
    let Some(args) = serve_request_args() else { return };
    serve_in_hook(|| match parse(&args) {
        Ok(req) if req.mode == MODE => {
            consume_request();
            // On a remote host: die with the session (see `server::exit_with_stdin`).
            if req.exit_with_stdin {
                if let Err(e) = crate::server::exit_with_stdin() {
                    return Some(Err(format!("cannot watch stdin: {e}")));
                }
            }
            Some(super::serve(&req.host, req.port, req.max_connections).map_err(|e| e.to_string()))
        }
        // A native RPyC mode: the server's own hook serves it.
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    });
}
