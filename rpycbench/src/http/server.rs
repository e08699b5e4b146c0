//! The HTTP baseline server: hyper's HTTP/1.1 server, keep-alive, one OS thread per
//! connection.
//!
//! The model mirrors the native threaded RPyC server (`serve_threaded`) on purpose, so
//! the suite compares protocols and not concurrency models: the same std accept loop
//! (the same polling of the stop flag, the same `max_connections` rule) hands each
//! accepted socket to a thread of its own, and that thread drives the connection with
//! hyper on a current-thread tokio runtime. Nothing is shared between connections; a
//! slow request (`cpu_work`, `io_work`) holds only its own connection, as in RPyC.

use super::routes;
use crate::server::{accept, Slots};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};

/// Serves the HTTP baseline with one thread per connection until `stop` is set.
/// `max_connections` works as for the RPyC servers: connections beyond it are accepted
/// and closed at once.
pub fn serve_http(listener: TcpListener, max_connections: Option<usize>, stop: &AtomicBool) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let slots = Slots::new(max_connections);
    while !stop.load(Ordering::Relaxed) {
        let Some(stream) = accept(&listener)? else { continue };
        // Over the cap: accepted and closed at once (dropping the stream).
        let Some(slot) = slots.take() else { continue };
        let spawned = std::thread::Builder::new().name("http-conn".into()).spawn(move || {
            // Moved in, so the slot comes back however the thread ends (even by a panic).
            let _slot = slot;
            if let Err(e) = serve_connection(stream) {
                eprintln!("rpycbench http server: {e}");
            }
        });
        if let Err(e) = spawned {
            // The closure (and its slot) was dropped, so the count is right again.
            eprintln!("rpycbench http server: cannot start a connection thread: {e}");
        }
    }
    Ok(())
}

/// Serves one connection's requests, keep-alive, until the client closes it.
fn serve_connection(stream: TcpStream) -> io::Result<()> {
    let peer = stream.peer_addr().map_or_else(|_| "an unknown peer".to_owned(), |a| a.to_string());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    runtime.block_on(async move {
        // The socket was accepted by std; tokio needs it non-blocking and registered
        // with this thread's reactor (from_std must run inside the runtime).
        stream.set_nonblocking(true)?;
        let stream = tokio::net::TcpStream::from_std(stream)?;
        // Replies are small and request-response: Nagle would only add delay (the RPyC
        // client and the HTTP baseline client set it too).
        stream.set_nodelay(true)?;
        let served = http1::Builder::new()
            .keep_alive(true)
            // The timer drives hyper's header-read timeout (30 s by default): a client
            // that sends half a request head, or idles that long between requests, is
            // dropped instead of holding a thread forever.
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(stream), service_fn(routes::handle))
            .await;
        match served {
            Ok(()) => Ok(()),
            // A client that goes away mid-request ends only its own connection.
            Err(e) if e.is_incomplete_message() || e.is_timeout() => Ok(()),
            Err(e) => Err(io::Error::other(format!("connection from {peer} ended: {e}"))),
        }
    })
}
