//! `asnd test-notification`: ask Apple for a TEST notification, follow its delivery, and say in
//! one verdict what became of it: stored; delivered but refused (with the quarantine's reason);
//! or not delivered (with Apple's send-attempt results).

use std::time::Duration;

use super::backfill::delivery_attempts;
use super::client::{ApiClient, ApiError};
use super::format_ms;
use crate::apple::At;
use crate::ingest::Pipeline;
use crate::store::{DeliveryAttempt, StoredNotification, StoredRejection};

/// Apple's code for "not yet available or not found" (Get Test Notification Status): keep polling.
const TEST_NOTIFICATION_NOT_FOUND: i64 = 4040008;

/// How to follow the test notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowOptions {
    /// Between two status requests (Apple allows one per second).
    pub poll_interval: Duration,
    /// How long to wait for Apple's first delivery attempt.
    pub wait: Duration,
}

impl FollowOptions {
    /// When to ask again, after a poll that found no attempt and ended at `now`: one interval
    /// later, but never past the end of the wait, so that the last poll is at the deadline itself.
    /// `None` once the poll at the deadline was made.
    pub fn next_poll(
        &self,
        started: tokio::time::Instant,
        now: tokio::time::Instant,
    ) -> Option<tokio::time::Instant> {
        let deadline = started + self.wait;
        (now < deadline).then(|| (now + self.poll_interval).min(deadline))
    }
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: Duration::from_secs(3),
            wait: Duration::from_secs(60),
        }
    }
}

/// What became of the test notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered and stored: the setup works.
    Stored {
        uuid: String,
        stored: StoredNotification,
        attempts: Vec<DeliveryAttempt>,
    },
    /// Delivered, but asnd refused it; the quarantine says why.
    Quarantined {
        uuid: String,
        rejections: Vec<StoredRejection>,
        attempts: Vec<DeliveryAttempt>,
        /// Why Apple's copy does not verify with this configuration, if it does not.
        unverified: Option<String>,
    },
    /// Apple reports a successful delivery, yet this database has no trace of it.
    Missing {
        uuid: String,
        attempts: Vec<DeliveryAttempt>,
    },
    /// Apple tried and failed.
    NotDelivered {
        uuid: Option<String>,
        attempts: Vec<DeliveryAttempt>,
        unverified: Option<String>,
    },
    /// Apple reported no attempt within the wait.
    NoAttemptYet { token: String, waited: Duration },
}

impl Verdict {
    /// 0 when the notification was stored, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Stored { .. } => 0,
            _ => 1,
        }
    }

    /// The verdict on the first line, details after it.
    pub fn render(&self, environment: &str) -> String {
        let mut out = match self {
            Verdict::Stored {
                uuid,
                stored,
                attempts,
            } => format!(
                "delivered and stored: TEST notification {uuid} ({environment}) was stored at {} from {}{}",
                format_ms(stored.received_at),
                stored.source_address,
                attempts_line(attempts)
            ),
            Verdict::Quarantined {
                uuid,
                rejections,
                attempts,
                unverified,
            } => {
                let mut s = match rejections.first() {
                    Some(r) => format!(
                        "delivered but not stored: asnd refused TEST notification {uuid} ({environment}) with HTTP {}: {}\n  quarantined at {} from {}",
                        r.http_status,
                        r.reason,
                        format_ms(r.received_at),
                        r.source_address
                    ),
                    None => format!("delivered but not stored: TEST notification {uuid}"),
                };
                if rejections.len() > 1 {
                    s.push_str(&format!(
                        " ({} quarantine rows for this UUID)",
                        rejections.len()
                    ));
                }
                s.push_str(&attempts_line(attempts));
                if let Some(e) = unverified {
                    s.push_str(&format!(
                        "\n  Apple's copy does not verify with this configuration either: {e}"
                    ));
                }
                s
            }
            Verdict::Missing { uuid, attempts } => format!(
                "delivered but not found: Apple reports a successful delivery of TEST notification {uuid} ({environment}), \
                 but it is neither stored nor quarantined in this database{}\n  \
                 check that App Store Connect's {environment} notification URL points at the asnd that uses this configuration's database",
                attempts_line(attempts)
            ),
            Verdict::NotDelivered {
                uuid,
                attempts,
                unverified,
            } => {
                let what = uuid
                    .as_deref()
                    .map_or("the TEST notification".to_owned(), |u| {
                        format!("TEST notification {u}")
                    });
                let mut s = format!(
                    "not delivered: Apple could not deliver {what} ({environment}){}",
                    attempts_line(attempts)
                );
                let mut seen = Vec::new();
                for a in attempts {
                    if seen.contains(&a.send_attempt_result) {
                        continue;
                    }
                    seen.push(a.send_attempt_result.clone());
                    if let Some(hint) = hint(&a.send_attempt_result) {
                        s.push_str(&format!("\n  {}: {hint}", a.send_attempt_result));
                    }
                }
                if let Some(e) = unverified {
                    s.push_str(&format!(
                        "\n  Apple's copy does not verify with this configuration: {e}"
                    ));
                }
                s
            }
            Verdict::NoAttemptYet { token, waited } => format!(
                "no delivery attempt yet: Apple has not reported an attempt to deliver the {environment} test notification within {}s\n  \
                 check again later with --token {token}",
                waited.as_secs()
            ),
        };
        out.push('\n');
        out
    }
}

fn attempts_line(attempts: &[DeliveryAttempt]) -> String {
    if attempts.is_empty() {
        return String::new();
    }
    let list: Vec<String> = attempts
        .iter()
        .map(|a| format!("{} {}", format_ms(a.attempt_date), a.send_attempt_result))
        .collect();
    format!("\n  Apple's attempts: {}", list.join(", "))
}

/// What a failed attempt usually means.
fn hint(result: &str) -> Option<&'static str> {
    Some(match result {
        "TIMED_OUT" => "asnd did not answer in time: is it running, and is its database fast?",
        "TLS_ISSUE" | "SSL_ISSUE" => {
            "the TLS handshake failed: serve the full certificate chain of a public CA, TLS 1.2 or 1.3"
        }
        "NO_RESPONSE" | "SOCKET_ISSUE" | "PREMATURE_CLOSE" => {
            "no connection or it closed early: check DNS, the port, the firewall (allow 17.0.0.0/8) and that asnd runs"
        }
        "CIRCULAR_REDIRECT" => "the URL redirects: give App Store Connect the final URL",
        "UNSUCCESSFUL_HTTP_RESPONSE_CODE" => {
            "the answer was not 2xx: see asnd's log (or the proxy's in front of it)"
        }
        "INVALID_RESPONSE" | "UNSUPPORTED_CHARSET" => {
            "the answer was not understood: is something else answering on that URL?"
        }
        _ => return None,
    })
}

/// The outcome of one `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Apple's testNotificationToken (usable for 6 months with `--token`).
    pub token: String,
    pub verdict: Verdict,
}

/// Requests a test notification (unless `token` names one already requested), waits for Apple's
/// first delivery attempt, and looks the notification up in the pipeline's store.
pub async fn check(
    client: &ApiClient,
    pipeline: &Pipeline,
    token: Option<String>,
    options: &FollowOptions,
) -> Result<Checked, ApiError> {
    let token = match token {
        Some(t) => t,
        None => client.request_test_notification().await?,
    };
    let started = tokio::time::Instant::now();
    let status = loop {
        match client.test_notification_status(&token).await {
            Ok(s) if s.send_attempts.as_ref().is_some_and(|a| !a.is_empty()) => break s,
            Ok(_) => {}
            Err(e) if e.apple_code() == Some(TEST_NOTIFICATION_NOT_FOUND) => {}
            Err(e) => return Err(e),
        }
        match options.next_poll(started, tokio::time::Instant::now()) {
            Some(at) => tokio::time::sleep_until(at).await,
            None => {
                return Ok(Checked {
                    verdict: Verdict::NoAttemptYet {
                        token: token.clone(),
                        waited: options.wait,
                    },
                    token,
                });
            }
        }
    };
    let attempts = delivery_attempts(status.send_attempts.as_deref().unwrap_or_default());
    let (uuid, unverified) = match status.signed_payload.as_deref() {
        Some(jws) => identify(pipeline, jws).await,
        None => (None, Some("Apple sent no signedPayload".to_owned())),
    };
    let store_error = |e: crate::store::StoreError| ApiError::Setup(format!("the database: {e}"));
    let Some(uuid) = uuid else {
        return Ok(Checked {
            token,
            verdict: Verdict::NotDelivered {
                uuid: None,
                attempts,
                unverified,
            },
        });
    };
    if unverified.is_none() {
        pipeline
            .store
            .save_delivery_attempts(&uuid, &attempts)
            .await
            .map_err(store_error)?;
    }
    let verdict = if let Some(stored) = pipeline
        .store
        .find_notification(&uuid)
        .await
        .map_err(store_error)?
    {
        Verdict::Stored {
            uuid,
            stored,
            attempts,
        }
    } else {
        let rejections = pipeline
            .store
            .find_rejections(&uuid)
            .await
            .map_err(store_error)?;
        if !rejections.is_empty() {
            Verdict::Quarantined {
                uuid,
                rejections,
                attempts,
                unverified,
            }
        } else if attempts.iter().any(|a| a.send_attempt_result == "SUCCESS") {
            Verdict::Missing { uuid, attempts }
        } else {
            Verdict::NotDelivered {
                uuid: Some(uuid),
                attempts,
                unverified,
            }
        }
    };
    Ok(Checked { token, verdict })
}

/// The notification's UUID: verified with the configured roots and apps when possible, else read
/// unverified (only to look it up), with the reason it did not verify.
async fn identify(pipeline: &Pipeline, jws: &str) -> (Option<String>, Option<String>) {
    let verifier = pipeline.verifier.clone();
    let policy = pipeline.policy.clone();
    let token = jws.to_owned();
    let verified = tokio::task::spawn_blocking(move || {
        verifier.verify_notification(&token, &policy, At::SignedDate)
    })
    .await;
    let claimed = || {
        crate::apple::jws::peek_payload(jws)
            .ok()
            .and_then(|p| p.get("notificationUUID")?.as_str().map(str::to_owned))
    };
    match verified {
        Ok(Ok(v)) => match v.notification.value.notification_uuid.clone() {
            Some(uuid) if !uuid.is_empty() => (Some(uuid), None),
            _ => (
                None,
                Some("the notification has no notificationUUID".into()),
            ),
        },
        Ok(Err(e)) => (claimed(), Some(e.report())),
        Err(e) => (claimed(), Some(format!("verification task failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The polls `next_poll` schedules when each takes `took`.
    fn schedule(options: FollowOptions, took: Duration) -> Vec<Duration> {
        let started = tokio::time::Instant::now();
        let mut polls = vec![Duration::ZERO];
        let mut at = started;
        while let Some(next) = options.next_poll(started, at + took) {
            polls.push(next - started);
            at = next;
            assert!(polls.len() < 1000);
        }
        polls
    }

    #[test]
    fn the_last_poll_is_at_the_deadline() {
        let options = FollowOptions {
            poll_interval: Duration::from_secs(1),
            wait: Duration::from_secs(4),
        };
        // Polls that take 50 ms each: 0, 1.05, 2.1, 3.15, then 4 (not 3.15 and give up).
        let polls = schedule(options, Duration::from_millis(50));
        assert_eq!(polls.last(), Some(&Duration::from_secs(4)), "{polls:?}");
        assert_eq!(polls.len(), 5, "{polls:?}");
        // An interval longer than the wait: one poll at the start, one at the deadline.
        let long = FollowOptions {
            poll_interval: Duration::from_secs(10),
            wait: Duration::from_secs(4),
        };
        assert_eq!(
            schedule(long, Duration::ZERO),
            vec![Duration::ZERO, Duration::from_secs(4)]
        );
    }

    fn attempt(result: &str) -> DeliveryAttempt {
        DeliveryAttempt {
            attempt_date: 1_795_996_800_000,
            send_attempt_result: result.into(),
        }
    }

    #[test]
    fn verdicts_lead_with_one_clear_line() {
        let stored = Verdict::Stored {
            uuid: "u-1".into(),
            stored: StoredNotification {
                notification_uuid: "u-1".into(),
                notification_type: "TEST".into(),
                environment: Some("Sandbox".into()),
                received_at: 1_795_996_800_123,
                source_address: "17.0.0.1".into(),
            },
            attempts: vec![attempt("SUCCESS")],
        };
        let text = stored.render("Sandbox");
        assert!(
            text.starts_with("delivered and stored: TEST notification u-1 (Sandbox) was stored at 2026-11-30T00:00:00.123Z from 17.0.0.1\n"),
            "{text}"
        );
        assert_eq!(stored.exit_code(), 0);

        let failed = Verdict::NotDelivered {
            uuid: Some("u-2".into()),
            attempts: vec![
                attempt("TIMED_OUT"),
                attempt("TLS_ISSUE"),
                attempt("TIMED_OUT"),
            ],
            unverified: None,
        };
        let text = failed.render("Production");
        assert!(text.starts_with("not delivered: "), "{text}");
        assert!(
            text.contains("2026-11-30T00:00:00.000Z TIMED_OUT, "),
            "{text}"
        );
        assert_eq!(text.matches("\n  TIMED_OUT: ").count(), 1, "{text}");
        assert!(text.contains("\n  TLS_ISSUE: "), "{text}");
        assert_eq!(failed.exit_code(), 1);

        let quarantined = Verdict::Quarantined {
            uuid: "u-3".into(),
            rejections: vec![StoredRejection {
                received_at: 0,
                source_address: "17.0.0.2".into(),
                reason: "INVALID_CHAIN: no trusted root".into(),
                http_status: 422,
            }],
            attempts: vec![attempt("UNSUCCESSFUL_HTTP_RESPONSE_CODE")],
            unverified: None,
        };
        assert!(
            quarantined
                .render("Sandbox")
                .starts_with("delivered but not stored: asnd refused TEST notification u-3 (Sandbox) with HTTP 422: INVALID_CHAIN: no trusted root\n")
        );
        let waiting = Verdict::NoAttemptYet {
            token: "tok".into(),
            waited: Duration::from_secs(60),
        };
        assert!(waiting.render("Sandbox").contains("--token tok"));
    }
}
