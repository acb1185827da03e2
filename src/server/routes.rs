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
use crate::ingest::{Outcome, Received};

/// The address Apple's request came from, attached to each request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(&state.path, post(notification))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(|| async { reply(StatusCode::NOT_FOUND, "not_found", Some("no such endpoint")) })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                Some("the request failed unexpectedly"),
            )
        }))
        .with_state(state)
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
    let source = req
        .extensions()
        .get::<ClientAddr>()
        .map(|c| c.0)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let (status, word, reason, notification) = handle(&state, source, req).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (uuid, kind) = notification.clone().unwrap_or_default();
    if status.is_success() {
        tracing::info!(%source, uuid, notification_type = kind, outcome = word, status = status.as_u16(), latency_ms, "notification");
    } else {
        tracing::warn!(%source, outcome = word, status = status.as_u16(), reason = reason.as_deref().unwrap_or(""), latency_ms, "notification refused");
    }
    reply(status, word, reason.as_deref())
}

type Handled = (
    StatusCode,
    &'static str,
    Option<String>,
    Option<(String, String)>,
);

async fn handle(state: &AppState, source: IpAddr, req: Request) -> Handled {
    // 1. Who is sending: refuse before reading a byte of the body.
    if !state.allow.iter().any(|net| net.contains(&source)) {
        return (
            StatusCode::FORBIDDEN,
            "forbidden",
            Some("source address is not allowed".into()),
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
    let notification = outcome
        .notification()
        .map(|(u, t)| (u.to_string(), t.to_string()));
    (
        status,
        outcome.label(),
        outcome.reason().map(str::to_string),
        notification,
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

async fn healthz() -> Response {
    reply(StatusCode::OK, "ok", None)
}

/// Ready when the database answers with every migration applied, and not draining.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            Some("shutting down"),
        );
    }
    match tokio::time::timeout(state.pipeline.store_timeout, state.pipeline.store.ready()).await {
        Ok(Ok(true)) => reply(StatusCode::OK, "ready", None),
        Ok(Ok(false)) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            Some("migrations are not applied"),
        ),
        Ok(Err(_)) | Err(_) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            Some("database unreachable"),
        ),
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
