//! Routes: the notification endpoint, `/healthz` and `/readyz`. A handler checks the source, reads
//! the body within its limits, hands it to `ingest`, and answers with a [`Reply`].

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::AppState;
use super::client_ip::client_ip;
use super::metrics::NotificationLabels;
use super::reply::{Refusal, Reply};
use crate::ingest::{Outcome, Received};
use crate::time::now_ms;

/// Who the connection is from, attached to each request by the accept loop: the peer's address,
/// or the client a trusted balancer's PROXY header names.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr {
    pub ip: IpAddr,
    /// A balancer's own connection (PROXY `LOCAL`/`UNKNOWN`): only the health endpoints.
    pub balancer_only: bool,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(&state.path, post(notification))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { Reply::NotFound })
        .layer(panic_guard())
        .with_state(state)
}

/// A panic in a handler answers 500 (Apple retries) and the daemon keeps serving.
fn panic_guard()
-> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(|_| {
        tracing::error!("a request handler panicked");
        Reply::Panicked.into_response()
    })
}

async fn notification(State(state): State<Arc<AppState>>, req: Request) -> Reply {
    let started = Instant::now();
    let client = req.extensions().get::<ClientAddr>().copied();
    let conn = client.map_or(IpAddr::from([0, 0, 0, 0]), |c| c.ip);
    let forwarded = if client.is_some_and(|c| c.balancer_only) {
        Err(Refusal::BalancerOnly)
    } else if state.proxy_protocol {
        // Behind an L4 balancer TLS runs end to end: only the client could have written a
        // forwarding header, so none is read.
        Ok(conn)
    } else {
        client_ip(
            conn,
            req.headers(),
            &state.trusted_proxies,
            state.forwarded_header,
        )
        .map_err(Refusal::Forwarding)
    };
    let (source, reply) = match forwarded {
        Ok(source) => (source, receive(&state, source, req).await),
        Err(refusal) => (conn, Reply::Refused(refusal)),
    };
    observe(&state, source, conn, &reply, started.elapsed());
    reply
}

/// Counts and logs one answered notification request.
fn observe(state: &AppState, source: IpAddr, conn: IpAddr, reply: &Reply, took: Duration) {
    let status = reply.status().as_u16();
    let outcome = reply.word();
    let latency_ms = (took.as_secs_f64() * 100_000.0).round() / 100.0; // to 10 µs
    state.metrics.request(status, outcome, took);
    match reply {
        Reply::Ingested(Outcome::Stored(a)) => {
            state.metrics.database(a.database_time);
            state.metrics.stored(
                NotificationLabels {
                    notification_type: a.notification_type.clone(),
                    subtype: a.subtype.clone().unwrap_or_default(),
                    environment: a.environment.clone().unwrap_or_default(),
                    app: a.bundle_id.clone().unwrap_or_default(),
                },
                now_ms() as f64 / 1000.0,
            );
        }
        Reply::Ingested(Outcome::Duplicate(a)) => {
            state.metrics.database(a.database_time);
            state.metrics.duplicate();
        }
        refused => state.metrics.rejected(refused.rejection_reason()),
    }
    match reply.accepted() {
        Some(a) => tracing::info!(
            %source, uuid = a.uuid, notification_type = a.notification_type, subtype = a.subtype.as_deref().unwrap_or(""),
            outcome, status, latency_ms, "notification"
        ),
        None => tracing::warn!(
            %source, %conn, outcome, status, reason = reply.reason().as_deref().unwrap_or(""),
            latency_ms, "notification refused"
        ),
    }
}

/// Checks the source, reads the body within its limits, and hands it to the pipeline.
async fn receive(state: &AppState, source: IpAddr, req: Request) -> Reply {
    // 1. Who is sending: refuse before reading a byte of the body.
    if !state.allow.iter().any(|net| net.contains(&source)) {
        return Reply::Refused(Refusal::SourceNotAllowed(source));
    }
    // 2. The body, within its size and time limits.
    let too_large = Reply::Refused(Refusal::TooLarge {
        limit: state.max_body_bytes,
    });
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > state.max_body_bytes as u64) {
        return too_large;
    }
    let limited = Limited::new(req.into_body(), state.max_body_bytes);
    let body = match tokio::time::timeout(state.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large,
        Ok(Err(e)) => return Reply::Refused(Refusal::BodyUnreadable(e.to_string())),
        Err(_) => return Reply::Refused(Refusal::BodyTimeout),
    };
    // 3. Verify and store.
    let received = Received {
        body,
        source: source.to_string(),
        received_at_ms: now_ms(),
    };
    let outcome =
        match tokio::time::timeout(state.handler_timeout, state.pipeline.ingest(received)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Unavailable("the request took too long; not acknowledged".into()),
        };
    Reply::Ingested(outcome)
}

/// The admin listener: metrics and the same health endpoints, for operators only; and the
/// console when `[admin] console = true` (never on the notification listener).
pub fn admin_router(state: Arc<AppState>) -> Router {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    let router = match state.console.is_some() {
        true => router.merge(crate::console::router(state.clone())),
        false => router,
    };
    router
        .fallback(|| async { Reply::NotFound })
        .layer(panic_guard())
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // The quarantine size is read at scrape time; a slow database leaves the last value.
    if let Ok(Ok(rows)) = tokio::time::timeout(
        state.pipeline.store_timeout,
        state.pipeline.store.quarantine().size(),
    )
    .await
    {
        state.metrics.set_quarantine_rows(rows);
    }
    state.metrics.set_reconcile(&state.reconcile.snapshot());
    let backlog = tokio::time::timeout(
        state.pipeline.store_timeout,
        state.pipeline.store.outbox().backlog(),
    )
    .await
    .ok()
    .and_then(Result::ok);
    state.metrics.set_deliveries(
        &state.deliveries.snapshot(),
        backlog.as_deref(),
        crate::time::now_ms(),
    );
    state
        .metrics
        .set_quarantine_trimmed(&state.pipeline.trimmed);
    let draining = state.draining.load(Ordering::SeqCst);
    state
        .metrics
        .set_ready(!draining && readiness(&state).await.is_ok());
    if let Some(expiry) = state.tls.as_ref().and_then(|certs| certs.expiry()) {
        state.metrics.set_tls_expiry(expiry);
    }
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn healthz() -> Reply {
    Reply::Healthy
}

/// Ready when the database answers with every migration applied, and not draining.
async fn readyz(State(state): State<Arc<AppState>>) -> Reply {
    if state.draining.load(Ordering::SeqCst) {
        return Reply::Draining;
    }
    match readiness(&state).await {
        Ok(()) => Reply::Ready,
        Err(why) => Reply::NotReady(why),
    }
}

/// Whether the database answers with every migration applied: `/readyz` (unless draining) and
/// the `asnd_ready` metric. The verdict is reused for a second: `/readyz` is open to anyone, and
/// must not become a way to keep the database pool busy.
async fn readiness(state: &AppState) -> Result<(), &'static str> {
    let cached = *state.readiness.lock().unwrap_or_else(|p| p.into_inner());
    match cached {
        Some((at, verdict)) if at.elapsed() < Duration::from_secs(1) => verdict,
        _ => {
            let store = &state.pipeline.store;
            let verdict =
                match tokio::time::timeout(state.pipeline.store_timeout, store.ready()).await {
                    Ok(Ok(true)) => Ok(()),
                    Ok(Ok(false)) => Err("migrations are not applied"),
                    Ok(Err(_)) | Err(_) => Err("database unreachable"),
                };
            *state.readiness.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((Instant::now(), verdict));
            verdict
        }
    }
}

/// Lets `Body` be used by name in the accept loop without importing axum there.
pub type HttpBody = Body;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        let items: Vec<&'static str> = Vec::new();
        items[std::hint::black_box(0)]
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_router_keeps_serving() {
        let router: Router = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "ok" }))
            .layer(panic_guard());
        let status = |path: &'static str| {
            let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
            let router = router.clone();
            async move { router.oneshot(request).await.unwrap().status() }
        };
        assert_eq!(status("/boom").await, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status("/fine").await, StatusCode::OK);
    }
}
