//! Routes: the notification endpoint, `/healthz` and `/readyz`. A handler checks the source, reads
//! the body within its limits, hands it to `ingest`, and answers with a short JSON body.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;

use super::AppState;
use super::client_ip::client_ip;
use super::metrics::NotificationLabels;
use crate::ingest::{Accepted, Outcome, Received};

/// The connection's address (the PROXY protocol's client when a trusted balancer sent one),
/// attached to each request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(&state.path, post(notification))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { reply(StatusCode::NOT_FOUND, "not_found", Some("no such endpoint")) })
        .layer(panic_guard())
        .with_state(state)
}

/// A panic in a handler answers 500 (Apple retries) and the daemon keeps serving.
fn panic_guard()
-> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(|_| {
        tracing::error!("a request handler panicked");
        reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            Some("the request failed unexpectedly"),
        )
    })
}

fn reply(status: StatusCode, word: &str, reason: Option<&str>) -> Response {
    let body = match reason {
        Some(r) => json!({"status": word, "reason": r}),
        None => json!({"status": word}),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    }
    response
}

async fn notification(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let conn = req
        .extensions()
        .get::<ClientAddr>()
        .map(|c| c.0)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let (source, (status, word, reason, accepted)) = match client_ip(
        conn,
        req.headers(),
        &state.trusted_proxies,
        state.forwarded_header,
    ) {
        Ok(source) => (source, handle(&state, source, req).await),
        Err(why) => (conn, (StatusCode::FORBIDDEN, "forbidden", Some(why), None)),
    };
    let took = started.elapsed();
    let latency_ms = took.as_secs_f64() * 1000.0;
    state.metrics.request(status.as_u16(), word, took);
    match (&accepted, word) {
        (Some(a), "stored") => {
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
        (Some(a), _) => {
            state.metrics.database(a.database_time);
            state.metrics.duplicate();
        }
        (None, _) => {
            // A verification failure is counted by Apple's status name, anything else by outcome.
            let class = match (word, reason.as_deref()) {
                ("rejected", Some(r)) => r.split(':').next().unwrap_or(word),
                _ => word,
            };
            state.metrics.rejected(class);
        }
    }
    match &accepted {
        Some(a) => tracing::info!(
            %source, uuid = a.uuid, notification_type = a.notification_type, subtype = a.subtype.as_deref().unwrap_or(""),
            outcome = word, status = status.as_u16(), latency_ms, "notification"
        ),
        None => tracing::warn!(
            %source, %conn, outcome = word, status = status.as_u16(), reason = reason.as_deref().unwrap_or(""),
            latency_ms, "notification refused"
        ),
    }
    reply(status, word, reason.as_deref())
}

type Handled = (StatusCode, &'static str, Option<String>, Option<Accepted>);

async fn handle(state: &AppState, source: IpAddr, req: Request) -> Handled {
    // 1. Who is sending: refuse before reading a byte of the body.
    if !state.allow.iter().any(|net| net.contains(&source)) {
        return (
            StatusCode::FORBIDDEN,
            "forbidden",
            Some(format!("source address {source} is not allowed")),
            None,
        );
    }
    // 2. The body, within its size and time limits.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > state.max_body_bytes as u64) {
        return too_large(state);
    }
    let limited = Limited::new(req.into_body(), state.max_body_bytes);
    let body = match tokio::time::timeout(state.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(state),
        Ok(Err(e)) => {
            return (
                StatusCode::BAD_REQUEST,
                "bad_request",
                Some(format!("could not read the body: {e}")),
                None,
            );
        }
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                Some("the body did not arrive in time".into()),
                None,
            );
        }
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
    let status =
        StatusCode::from_u16(outcome.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let accepted = outcome.accepted().cloned();
    (
        status,
        outcome.label(),
        outcome.reason().map(str::to_string),
        accepted,
    )
}

fn too_large(state: &AppState) -> Handled {
    let reason = format!("body exceeds {} bytes", state.max_body_bytes);
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        Some(reason),
        None,
    )
}

/// The admin listener: metrics and the same health endpoints, for operators only.
pub fn admin_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { reply(StatusCode::NOT_FOUND, "not_found", Some("no such endpoint")) })
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // The quarantine size is read at scrape time; a slow database leaves the last value.
    if let Ok(Ok(rows)) = tokio::time::timeout(
        state.pipeline.store_timeout,
        state.pipeline.store.quarantine_size(),
    )
    .await
    {
        state.metrics.set_quarantine_rows(rows);
    }
    state.metrics.set_reconcile(&state.reconcile.snapshot());
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn healthz() -> Response {
    reply(StatusCode::OK, "ok", None)
}

/// Ready when the database answers with every migration applied, and not draining. The answer
/// is reused for a second: `/readyz` is open to anyone, and must not become a way to keep the
/// database pool busy.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            Some("shutting down"),
        );
    }
    let cached = *state.readiness.lock().unwrap_or_else(|p| p.into_inner());
    let verdict = match cached {
        Some((at, verdict)) if at.elapsed() < std::time::Duration::from_secs(1) => verdict,
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
    };
    match verdict {
        Ok(()) => reply(StatusCode::OK, "ready", None),
        Err(why) => reply(StatusCode::SERVICE_UNAVAILABLE, "not_ready", Some(why)),
    }
}

/// Lets `Body` be used by name in the accept loop without importing axum there.
pub type HttpBody = Body;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let boom = router
            .clone()
            .oneshot(
                axum::http::Request::get("/boom")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let fine = router
            .oneshot(
                axum::http::Request::get("/fine")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
