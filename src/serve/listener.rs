//! The HTTP listener of the API: HTTP/1.1 over hyper with the limits that keep slow or
//! silent clients from holding the server's sockets.
//!
//! - A connection must deliver each request head within [`HEADER_READ_TIMEOUT`]; the same
//!   timer closes a keep-alive connection that stays idle that long.
//! - Until its first request head has arrived a connection is a handshake
//!   (`admission`): at most [`HANDSHAKES_PER_PEER`] per IP address and [`MAX_HANDSHAKES`]
//!   in all; more are closed at once, so half-sent requests from one address cannot
//!   take the file descriptors everybody else needs.
//! - A request body must arrive within [`BODY_READ_TIMEOUT`] of its head.
//! - At most [`MAX_CONNECTIONS`] connections that sent a request are served; the next
//!   one is answered 503 and closed.
//!
//! At shutdown the listener stops accepting, lets running requests finish and closes
//! idle connections.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::admission::Admission;

/// Connections that sent a request, served at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections that have not sent a complete request head yet, from all addresses.
pub const MAX_HANDSHAKES: usize = 256;
/// Connections that have not sent a complete request head yet, from one IP address.
pub const HANDSHAKES_PER_PEER: usize = 16;
/// Longest a client may take to send a request head, or stay idle between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a client may take to send a request body once its head has arrived (a body
/// trickled or never sent would hold a session slot for good). The handlers that read
/// a body answer 408 when it is late.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes.
pub(crate) async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let admission = Admission::new(MAX_CONNECTIONS, MAX_HANDSHAKES, HANDSHAKES_PER_PEER);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            (socket, peer, standing) = admission.next(
                &listener,
                "connection refused: too many connections without a request",
            ) => {
                // The first request head admits the connection (a session slot), or
                // is answered 503 when there is none.
                let router = TowerToHyperService::new(router.clone());
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let admitted = standing.in_session() || standing.enter();
                    let router = router.clone();
                    async move {
                        if !admitted {
                            tracing::warn!(%peer, max = MAX_CONNECTIONS, "request refused: too many connections");
                            return Ok::<_, Infallible>(too_many());
                        }
                        router.call(request).await
                    }
                });
                let connection = http.serve_connection(TokioIo::new(socket), service);
                let mut stopping = stopping.clone();
                connections.spawn(async move {
                    tokio::pin!(connection);
                    let result = tokio::select! {
                        result = connection.as_mut() => result,
                        _ = stopping.changed() => {
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                    }
                });
            }
        }
    }
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

fn too_many() -> Response<Body> {
    let body = serde_json::json!({
        "error": format!("too many connections (at most {MAX_CONNECTIONS}); try again shortly")
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}
