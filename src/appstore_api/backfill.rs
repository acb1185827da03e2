//! Backfill: page through Get Notification History and feed every notification to the same
//! [`Pipeline`] as live traffic, so that it is verified (at its own `signedDate`), stored once
//! (idempotent on `notificationUUID`) or quarantined, exactly as if Apple had posted it. Apple's
//! delivery attempts for each notification are recorded in `delivery_attempts`.
//!
//! Interrupting and re-running is safe by construction: a notification already stored counts as a
//! duplicate and changes nothing, and an attempt already recorded is not recorded again. The
//! pagination position is not persisted; an interrupted run reports the token of the page it
//! stopped on, which a re-run with the same (absolute) times may pass to continue from there.

use bytes::Bytes;
use serde_json::json;

use super::client::{ApiClient, ApiError};
use super::{ApiEnvironment, SOURCE_LABEL, format_ms, now_ms};
use crate::apple::models::{
    NotificationHistoryItem, NotificationHistoryRequest, NotificationType, SendAttempt, Subtype,
};
use crate::ingest::{Outcome, Pipeline, Received};
use crate::store::DeliveryAttempt;

/// A runaway guard: 100 000 pages of 20 is two million notifications.
pub const MAX_PAGES: u64 = 100_000;
/// How many rejection reasons a report keeps (the quarantine has them all).
pub const MAX_REPORTED_REJECTIONS: usize = 20;

/// What to ask Apple for. Times are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackfillRequest {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Only notifications that did not reach us (including those Apple is still retrying).
    pub only_failures: bool,
    pub notification_type: Option<String>,
    /// Requires `notification_type`.
    pub subtype: Option<String>,
    /// Any transaction id of the customer; excludes `notification_type`.
    pub transaction_id: Option<String>,
}

impl BackfillRequest {
    /// Checks what Apple would refuse, with a clearer message than Apple's.
    pub fn validate(&self, environment: ApiEnvironment, now_ms: i64) -> Result<(), String> {
        if self.start_ms >= self.end_ms {
            return Err(format!(
                "the start ({}) must be before the end ({})",
                format_ms(self.start_ms),
                format_ms(self.end_ms)
            ));
        }
        let days = environment.history_days();
        if self.start_ms < now_ms - days * 86_400_000 {
            return Err(format!(
                "the start ({}) is more than {days} days ago: Apple keeps {days} days of {environment} history",
                format_ms(self.start_ms)
            ));
        }
        if self.subtype.is_some() && self.notification_type.is_none() {
            return Err("a subtype filter needs a type filter".into());
        }
        if self.notification_type.is_some() && self.transaction_id.is_some() {
            return Err(
                "filter by type or by transaction id, not both (Apple refuses the combination)"
                    .into(),
            );
        }
        for (what, value) in [
            ("type", &self.notification_type),
            ("subtype", &self.subtype),
            ("transaction id", &self.transaction_id),
        ] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                return Err(format!("the {what} filter is empty"));
            }
        }
        Ok(())
    }

    /// The request body Apple gets, the same bytes for every page.
    pub fn body(&self) -> Bytes {
        let request = NotificationHistoryRequest {
            start_date: Some(self.start_ms),
            end_date: Some(self.end_ms),
            notification_type: self
                .notification_type
                .as_deref()
                .map(NotificationType::from),
            notification_subtype: self.subtype.as_deref().map(Subtype::from),
            transaction_id: self.transaction_id.clone(),
            only_failures: self.only_failures.then_some(true),
            extra: Default::default(),
        };
        Bytes::from(serde_json::to_vec(&request).unwrap_or_default())
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackfillReport {
    pub pages: u64,
    /// Stored now.
    pub new: u64,
    /// Already stored: nothing changed.
    pub duplicate: u64,
    /// Refused by verification (quarantined) or unreadable.
    pub rejected: u64,
    /// Delivery attempts recorded for the first time.
    pub attempts_recorded: u64,
    /// The first few rejections: the UUID the payload claims (unverified) and the reason.
    pub rejections: Vec<(Option<String>, String)>,
}

impl BackfillReport {
    pub fn notifications(&self) -> u64 {
        self.new + self.duplicate + self.rejected
    }

    /// `3 pages, 7 notifications: 4 new, 2 duplicate, 1 rejected; 9 delivery attempts recorded`.
    pub fn summary(&self) -> String {
        format!(
            "{} page{}, {} notification{}: {} new, {} duplicate, {} rejected; {} delivery attempt{} recorded",
            self.pages,
            plural(self.pages),
            self.notifications(),
            plural(self.notifications()),
            self.new,
            self.duplicate,
            self.rejected,
            self.attempts_recorded,
            plural(self.attempts_recorded),
        )
    }

    fn reject(&mut self, uuid: Option<String>, reason: String) {
        self.rejected += 1;
        if self.rejections.len() < MAX_REPORTED_REJECTIONS {
            self.rejections.push((uuid, reason));
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("{0}")]
    Invalid(String),
    /// Stopped part way: what was done is kept (and safe to do again).
    #[error("interrupted on page {}: {cause}", .report.pages + 1)]
    Interrupted {
        report: BackfillReport,
        /// The `paginationToken` of the page that was not finished (`None`: the first page).
        resume_token: Option<String>,
        cause: Cause,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The database failed; Apple's data is still there for a re-run.
    #[error("not stored: {0}")]
    Store(String),
}

/// Pages through the history `request` selects, from `resume_token` (or the first page), and
/// ingests every notification. `progress` is called after each notification.
pub async fn backfill(
    client: &ApiClient,
    pipeline: &Pipeline,
    request: &BackfillRequest,
    resume_token: Option<String>,
    progress: &mut (dyn FnMut(&BackfillReport) + Send),
) -> Result<BackfillReport, BackfillError> {
    // A minute of slack: a caller that validated the same request a moment ago (the command
    // line does, with the "now" its relative times were read at) must not be refused now.
    request
        .validate(client.environment(), now_ms() - 60_000)
        .map_err(BackfillError::Invalid)?;
    let body = request.body();
    let mut report = BackfillReport::default();
    let mut token = resume_token;
    loop {
        let stop = |report: BackfillReport, token: &Option<String>, cause: Cause| {
            BackfillError::Interrupted {
                report,
                resume_token: token.clone(),
                cause,
            }
        };
        if report.pages >= MAX_PAGES {
            let cause = Cause::Api(ApiError::Decode {
                environment: client.environment(),
                detail: format!("more than {MAX_PAGES} pages: stopping"),
            });
            return Err(stop(report, &token, cause));
        }
        let page = match client.notification_history(&body, token.as_deref()).await {
            Ok(p) => p,
            Err(e) => return Err(stop(report, &token, Cause::Api(e))),
        };
        for item in page.notification_history.unwrap_or_default() {
            if let Err(cause) = ingest_one(pipeline, item, &mut report).await {
                return Err(stop(report, &token, cause));
            }
            progress(&report);
        }
        report.pages += 1;
        progress(&report);
        match (page.has_more, page.pagination_token) {
            (Some(true), Some(next)) if !next.is_empty() => {
                if token.as_deref() == Some(next.as_str()) {
                    let cause = Cause::Api(ApiError::Decode {
                        environment: client.environment(),
                        detail: "Apple returned the same paginationToken twice".into(),
                    });
                    return Err(stop(report, &token, cause));
                }
                token = Some(next);
            }
            (Some(true), _) => {
                let cause = Cause::Api(ApiError::Decode {
                    environment: client.environment(),
                    detail: "hasMore without a paginationToken".into(),
                });
                return Err(stop(report, &token, cause));
            }
            _ => return Ok(report),
        }
    }
}

async fn ingest_one(
    pipeline: &Pipeline,
    item: NotificationHistoryItem,
    report: &mut BackfillReport,
) -> Result<(), Cause> {
    let Some(jws) = item.signed_payload.filter(|p| !p.is_empty()) else {
        report.reject(None, "a history entry without a signedPayload".into());
        return Ok(());
    };
    let body = json!({ "signedPayload": jws }).to_string();
    let outcome = pipeline
        .ingest(Received {
            body: Bytes::from(body),
            source: SOURCE_LABEL.to_owned(),
            received_at_ms: now_ms(),
        })
        .await;
    let uuid = match &outcome {
        Outcome::Stored(a) => {
            report.new += 1;
            a.uuid.clone()
        }
        Outcome::Duplicate(a) => {
            report.duplicate += 1;
            a.uuid.clone()
        }
        Outcome::Unavailable(reason) => {
            return Err(Cause::Store(reason.clone()));
        }
        refused => {
            let reason = refused.reason().unwrap_or_default().to_owned();
            let claimed = crate::apple::jws::peek_payload(&jws)
                .ok()
                .and_then(|p| p.get("notificationUUID")?.as_str().map(str::to_owned));
            tracing::debug!(
                uuid = claimed.as_deref().unwrap_or(""),
                %reason,
                "backfilled notification refused"
            );
            report.reject(claimed, reason);
            // Attempts are recorded only for verified notifications: a UUID that did not verify
            // is not worth keeping beside real ones.
            return Ok(());
        }
    };
    let attempts = delivery_attempts(item.send_attempts.as_deref().unwrap_or_default());
    match tokio::time::timeout(
        pipeline.store_timeout,
        pipeline.store.save_delivery_attempts(&uuid, &attempts),
    )
    .await
    {
        Ok(Ok(n)) => {
            report.attempts_recorded += n;
            Ok(())
        }
        Ok(Err(e)) => Err(Cause::Store(format!("delivery attempts of {uuid}: {e}"))),
        Err(_) => Err(Cause::Store(format!(
            "delivery attempts of {uuid}: the database did not answer within {:?}",
            pipeline.store_timeout
        ))),
    }
}

/// Apple's attempts as rows; an attempt without a date or a result cannot be keyed and is left out.
pub fn delivery_attempts(attempts: &[SendAttempt]) -> Vec<DeliveryAttempt> {
    attempts
        .iter()
        .filter_map(|a| {
            Some(DeliveryAttempt {
                attempt_date: a.attempt_date?,
                send_attempt_result: a.send_attempt_result.as_ref()?.as_str().to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const NOW: i64 = 1_795_996_800_000;
    const DAY: i64 = 86_400_000;

    fn request() -> BackfillRequest {
        BackfillRequest {
            start_ms: NOW - 3 * DAY,
            end_ms: NOW,
            ..Default::default()
        }
    }

    #[test]
    fn the_body_is_apples_request() {
        let mut r = request();
        r.only_failures = true;
        r.notification_type = Some("DID_RENEW".into());
        r.subtype = Some("BILLING_RECOVERY".into());
        let body: Value = serde_json::from_slice(&r.body()).unwrap();
        assert_eq!(
            body,
            json!({"startDate": NOW - 3 * DAY, "endDate": NOW, "notificationType": "DID_RENEW",
                   "notificationSubtype": "BILLING_RECOVERY", "onlyFailures": true})
        );
        assert_eq!(r.body(), r.body(), "the same bytes every time");
        let plain: Value = serde_json::from_slice(&request().body()).unwrap();
        assert_eq!(plain, json!({"startDate": NOW - 3 * DAY, "endDate": NOW}));
    }

    #[test]
    fn requests_apple_would_refuse_are_refused_first() {
        let ok = request();
        ok.validate(ApiEnvironment::Sandbox, NOW).unwrap();
        let mut r = request();
        r.end_ms = r.start_ms;
        assert!(
            r.validate(ApiEnvironment::Sandbox, NOW)
                .unwrap_err()
                .contains("must be before")
        );
        let mut r = request();
        r.start_ms = NOW - 31 * DAY;
        let err = r.validate(ApiEnvironment::Sandbox, NOW).unwrap_err();
        assert!(err.contains("30 days of Sandbox history"), "{err}");
        r.validate(ApiEnvironment::Production, NOW).unwrap();
        r.start_ms = NOW - 181 * DAY;
        assert!(r.validate(ApiEnvironment::Production, NOW).is_err());
        let mut r = request();
        r.subtype = Some("X".into());
        assert!(r.validate(ApiEnvironment::Sandbox, NOW).is_err());
        let mut r = request();
        r.notification_type = Some("REFUND".into());
        r.transaction_id = Some("1".into());
        assert!(
            r.validate(ApiEnvironment::Sandbox, NOW)
                .unwrap_err()
                .contains("not both")
        );
        let mut r = request();
        r.transaction_id = Some(" ".into());
        assert!(r.validate(ApiEnvironment::Sandbox, NOW).is_err());
    }

    #[test]
    fn attempts_without_date_or_result_are_left_out() {
        let attempts: Vec<SendAttempt> = serde_json::from_value(json!([
            {"attemptDate": 1, "sendAttemptResult": "TIMED_OUT"},
            {"attemptDate": 2, "sendAttemptResult": "SOMETHING_NEW"},
            {"sendAttemptResult": "SUCCESS"},
            {"attemptDate": 3}
        ]))
        .unwrap();
        assert_eq!(
            delivery_attempts(&attempts),
            vec![
                DeliveryAttempt {
                    attempt_date: 1,
                    send_attempt_result: "TIMED_OUT".into()
                },
                DeliveryAttempt {
                    attempt_date: 2,
                    send_attempt_result: "SOMETHING_NEW".into()
                },
            ]
        );
    }

    #[test]
    fn summary_reads_well() {
        let r = BackfillReport {
            pages: 3,
            new: 4,
            duplicate: 2,
            rejected: 1,
            attempts_recorded: 1,
            rejections: vec![],
        };
        assert_eq!(
            r.summary(),
            "3 pages, 7 notifications: 4 new, 2 duplicate, 1 rejected; 1 delivery attempt recorded"
        );
    }
}
