//! Every answer the receiver gives, as one type: its HTTP status, its JSON body
//! (`{"status": word, "reason": …}`), `Retry-After` when Apple should come back later, and the
//! labels logs and metrics use. Handlers return a [`Reply`]; nothing else writes a response.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ingest::{Accepted, Outcome};

/// How long a 503 asks the client to wait (Apple retries on its own schedule anyway).
const RETRY_AFTER_SECONDS: &str = "60";

/// Why a notification request was refused before it reached the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A trusted proxy sent a forwarding header that could not be read.
    Forwarding(String),
    /// The client address is outside `sources.allow`: refused before reading the body.
    SourceNotAllowed(IpAddr),
    /// A trusted balancer's own connection (PROXY `LOCAL` or `UNKNOWN`): health endpoints only.
    BalancerOnly,
    /// Declared or read beyond `server.max_body_bytes`.
    TooLarge { limit: usize },
    /// The body stream failed.
    BodyUnreadable(String),
    /// The body did not arrive within `server.body_timeout`.
    BodyTimeout,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Forwarding(why) => f.write_str(why),
            Refusal::SourceNotAllowed(source) => {
                write!(f, "source address {source} is not allowed")
            }
            Refusal::BalancerOnly => f.write_str(
                "the PROXY header said LOCAL or UNKNOWN: this connection may reach only /healthz and /readyz",
            ),
            Refusal::TooLarge { limit } => write!(f, "body exceeds {limit} bytes"),
            Refusal::BodyUnreadable(e) => write!(f, "could not read the body: {e}"),
            Refusal::BodyTimeout => f.write_str("the body did not arrive in time"),
        }
    }
}

/// An answer of the notification, health or admin endpoints.
#[derive(Debug)]
pub enum Reply {
    /// The pipeline's verdict on a notification.
    Ingested(Outcome),
    /// A notification request refused before the pipeline.
    Refused(Refusal),
    /// No route for the path.
    NotFound,
    /// A handler panicked: 500, so Apple retries.
    Panicked,
    /// `/healthz`.
    Healthy,
    /// `/readyz`, database reachable and migrated.
    Ready,
    /// `/readyz`, and why not.
    NotReady(&'static str),
    /// `/readyz` once shutdown has begun, so balancers stop sending.
    Draining,
}

impl Reply {
    pub fn status(&self) -> StatusCode {
        match self {
            Reply::Ingested(outcome) => StatusCode::from_u16(outcome.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Reply::Refused(
                Refusal::Forwarding(_) | Refusal::SourceNotAllowed(_) | Refusal::BalancerOnly,
            ) => StatusCode::FORBIDDEN,
            Reply::Refused(Refusal::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Reply::Refused(Refusal::BodyUnreadable(_)) => StatusCode::BAD_REQUEST,
            Reply::Refused(Refusal::BodyTimeout) => StatusCode::REQUEST_TIMEOUT,
            Reply::NotFound => StatusCode::NOT_FOUND,
            Reply::Panicked => StatusCode::INTERNAL_SERVER_ERROR,
            Reply::Healthy | Reply::Ready => StatusCode::OK,
            Reply::NotReady(_) | Reply::Draining => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The body's `status`, the log's `outcome` and the `outcome` label of `asnd_requests`.
    pub fn word(&self) -> &'static str {
        match self {
            Reply::Ingested(outcome) => outcome.label(),
            Reply::Refused(
                Refusal::Forwarding(_) | Refusal::SourceNotAllowed(_) | Refusal::BalancerOnly,
            ) => "forbidden",
            Reply::Refused(Refusal::TooLarge { .. }) => "too_large",
            Reply::Refused(Refusal::BodyUnreadable(_)) => "bad_request",
            Reply::Refused(Refusal::BodyTimeout) => "timeout",
            Reply::NotFound => "not_found",
            Reply::Panicked => "internal_error",
            Reply::Healthy => "ok",
            Reply::Ready => "ready",
            Reply::NotReady(_) => "not_ready",
            Reply::Draining => "draining",
        }
    }

    /// The body's `reason`, also logged for a refused request.
    pub fn reason(&self) -> Option<Cow<'_, str>> {
        match self {
            Reply::Ingested(outcome) => outcome.reason().map(Cow::Borrowed),
            Reply::Refused(refusal) => Some(Cow::Owned(refusal.to_string())),
            Reply::NotFound => Some(Cow::Borrowed("no such endpoint")),
            Reply::Panicked => Some(Cow::Borrowed("the request failed unexpectedly")),
            Reply::Healthy | Reply::Ready => None,
            Reply::NotReady(why) => Some(Cow::Borrowed(why)),
            Reply::Draining => Some(Cow::Borrowed("shutting down")),
        }
    }

    /// Set on every 503: the answer may change soon.
    pub fn retry_after(&self) -> Option<HeaderValue> {
        match self {
            Reply::Ingested(Outcome::Unavailable(_)) | Reply::NotReady(_) | Reply::Draining => {
                Some(HeaderValue::from_static(RETRY_AFTER_SECONDS))
            }
            _ => None,
        }
    }

    /// The `reason` label of `asnd_rejections`: Apple's status name for a notification that did
    /// not verify (`INVALID_ENVIRONMENT`), else the [`word`](Reply::word).
    pub fn rejection_reason(&self) -> &'static str {
        match self {
            Reply::Ingested(Outcome::Rejected(status, _)) => status.as_str(),
            other => other.word(),
        }
    }

    /// The stored (or already stored) notification, when there is one.
    pub fn accepted(&self) -> Option<&Accepted> {
        match self {
            Reply::Ingested(outcome) => outcome.accepted(),
            _ => None,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let word = self.word();
        let body = match self.reason() {
            Some(reason) => json!({"status": word, "reason": reason}),
            None => json!({"status": word}),
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, wait);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::Status;

    fn every_reply() -> Vec<Reply> {
        let refusals = [
            Refusal::Forwarding("Forwarded is not text".into()),
            Refusal::SourceNotAllowed(IpAddr::from([10, 0, 0, 1])),
            Refusal::BalancerOnly,
            Refusal::TooLarge { limit: 10 },
            Refusal::BodyUnreadable("reset".into()),
            Refusal::BodyTimeout,
        ];
        let outcomes = [
            Outcome::Stored(Accepted::default()),
            Outcome::Duplicate(Accepted::default()),
            Outcome::BadRequest("x".into()),
            Outcome::Forbidden("x".into()),
            Outcome::Rejected(Status::InvalidEnvironment, "x".into()),
            Outcome::Unavailable("x".into()),
        ];
        let mut replies: Vec<Reply> = refusals.into_iter().map(Reply::Refused).collect();
        replies.extend(outcomes.into_iter().map(Reply::Ingested));
        replies.extend([
            Reply::NotFound,
            Reply::Panicked,
            Reply::Healthy,
            Reply::Ready,
            Reply::NotReady("database unreachable"),
            Reply::Draining,
        ]);
        replies
    }

    #[test]
    fn statuses_and_words() {
        let got: Vec<(u16, &str)> = every_reply()
            .iter()
            .map(|r| (r.status().as_u16(), r.word()))
            .collect();
        assert_eq!(
            got,
            [
                (403, "forbidden"),
                (403, "forbidden"),
                (403, "forbidden"),
                (413, "too_large"),
                (400, "bad_request"),
                (408, "timeout"),
                (200, "stored"),
                (200, "duplicate"),
                (400, "bad_request"),
                (403, "forbidden"),
                (422, "rejected"),
                (503, "unavailable"),
                (404, "not_found"),
                (500, "internal_error"),
                (200, "ok"),
                (200, "ready"),
                (503, "not_ready"),
                (503, "draining"),
            ]
        );
    }

    #[test]
    fn every_503_and_only_a_503_asks_to_retry_later() {
        for reply in every_reply() {
            assert_eq!(
                reply.retry_after().is_some(),
                reply.status() == StatusCode::SERVICE_UNAVAILABLE,
                "{reply:?}"
            );
        }
    }

    #[test]
    fn a_verification_failure_is_counted_by_apples_status_name() {
        let rejected = Reply::Ingested(Outcome::Rejected(
            Status::InvalidEnvironment,
            "INVALID_ENVIRONMENT: environment mismatch: Sandbox".into(),
        ));
        assert_eq!(rejected.rejection_reason(), "INVALID_ENVIRONMENT");
        let large = Reply::Refused(Refusal::TooLarge { limit: 10 });
        assert_eq!(large.rejection_reason(), "too_large");
        assert_eq!(large.reason().as_deref(), Some("body exceeds 10 bytes"));
    }

    #[tokio::test]
    async fn the_body_is_the_word_and_the_reason() {
        use http_body_util::BodyExt;
        let response = Reply::Draining.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "60");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            &body[..],
            br#"{"status":"draining","reason":"shutting down"}"#
        );
        let body = Reply::Healthy
            .into_response()
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], br#"{"status":"ok"}"#);
    }
}
