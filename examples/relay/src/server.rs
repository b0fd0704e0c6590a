//! The HTTP/1.1 server: an accept loop on hyper, with a header-read timeout (slow-header
//! clients are cut off), a bound on open connections, and graceful shutdown that lets in-flight
//! requests (and their upstream forwards) finish within a grace period.

use crate::app::{AppState, admin_app, app};
use crate::config::Config;
use crate::error::StartError;
use crate::ratelimit::ClientSlots;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Open connections at most; more wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 4096;
/// Largest request head (request line and headers); more gets 431. hyper's read buffer is set to
/// it too, but that bounds what one read may hold, not the head: the router checks the head
/// itself ([`crate::app`]).
pub const MAX_HEAD_BYTES: usize = 64 << 10;

/// The peer's address, set on every request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

/// Binds `config.listen` (and `config.admin_listen`), prints where, and serves until
/// `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let bind = |addr: SocketAddr| async move {
        let l = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        let bound = l.local_addr().map_err(|source| StartError::Bind { addr, source })?;
        Ok::<_, StartError>((l, bound))
    };
    // Checked before anything is printed: the banner shows only a configuration that runs.
    let state = AppState::new(config.clone())?;
    let (listener, addr) = bind(config.listen).await?;
    let admin = match config.admin_listen {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let mut shown = config.clone();
    shown.listen = addr;
    shown.admin_listen = admin.as_ref().map(|(_, a)| *a);
    // The banner is the program's output (scripts read the address from it), not a log line.
    let banner = format!("canopy-relay listening on http://{addr}\n{}\n", shown.describe());
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), banner.as_bytes());
    // After the last request is answered, the exporters that run beside ingest send what they hold.
    let exporters = state.clone();
    let Some((admin, _)) = admin else {
        serve(listener, state, shutdown).await;
        exporters.close(config.shutdown_grace).await;
        return Ok(());
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let admin = tokio::spawn(serve_admin(admin, state.clone(), stopped(rx.clone())));
    let main = serve(listener, state, stopped(rx));
    let signal = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    tokio::join!(main, signal);
    let _ = admin.await;
    exporters.close(config.shutdown_grace).await;
    Ok(())
}

/// Serves `state`'s routes ([`app`]) on `listener` until `shutdown` resolves, then stops
/// accepting and waits up to `shutdown_grace` for open requests.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()>) {
    let (read_timeout, grace) = (state.config.read_timeout, state.config.shutdown_grace);
    let per_address = state.config.connections_per_address();
    serve_router(listener, app(state), read_timeout, grace, per_address, shutdown).await;
}

/// Serves the viewer and `/metrics` ([`admin_app`]) on `listener` (`CANOPY_ADMIN_LISTEN`).
pub async fn serve_admin(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()>) {
    let (read_timeout, grace) = (state.config.read_timeout, state.config.shutdown_grace);
    serve_router(listener, admin_app(state), read_timeout, grace, 0, shutdown).await;
}

/// The accept loop, hand-written (not `axum::serve`) for what axum's does not offer: a
/// header-read timeout against slow-header clients, and caps on open connections, in all and
/// per client address (`per_address`, 0: none; an IPv6 /64 is one address).
async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    read_timeout: Duration,
    grace: Duration,
    per_address: usize,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let addresses = ClientSlots::new(per_address, 0);
    let mut refused_at: Option<std::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::error!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // One address holding its share of the connections: the new one is closed unread.
        let Some(address) = addresses.enter(peer.ip()) else {
            drop(stream);
            if refused_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                refused_at = Some(std::time::Instant::now());
                tracing::warn!(client = %peer.ip(), "{per_address} connections open from one address: more are closed");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ClientAddr(peer));
            router.clone().oneshot(req)
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(read_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop((permit, address));
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => tracing::warn!("shutdown: requests still open after {} ms, closing", grace.as_millis()),
    }
}
