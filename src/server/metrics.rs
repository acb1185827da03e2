//! Prometheus metrics, served on the admin listener: requests, notifications, rejections,
//! duplicates, latency, the last stored notification per app and environment, quarantine size,
//! reconciliation counts, build info.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

use crate::appstore_api::reconcile::ReconcileSnapshot;
use crate::ingest::QuarantineTrimmed;
use crate::store::Backlog;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    status: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    pub notification_type: String,
    pub subtype: String,
    pub environment: String,
    pub app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    destination: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabels {
    destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppEnvironmentLabels {
    app: String,
    environment: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// A metric of any type, so that one table can register them all.
#[derive(Debug)]
struct AnyMetric(Box<dyn Metric>);

impl EncodeMetric for AnyMetric {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

/// Latency buckets from 1 ms to 10 s: Apple expects an answer within seconds.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    notifications: Family<NotificationLabels, Counter>,
    rejections: Family<ReasonLabels, Counter>,
    duplicates: Counter,
    request_seconds: Histogram,
    database_seconds: Histogram,
    last_stored: Family<AppEnvironmentLabels, Gauge<f64, AtomicU64>>,
    quarantine_rows: Gauge,
    quarantine_trimmed: Family<TrimLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    deliveries_pending: Family<DestinationLabels, Gauge>,
    deliveries_dead: Family<DestinationLabels, Gauge>,
    oldest_pending: Family<DestinationLabels, Gauge<f64, AtomicU64>>,
    reconcile: Family<ReconcileLabels, Counter>,
    reconcile_last_run: Gauge<f64, AtomicU64>,
    tls_expiry: Gauge,
    ready: Gauge,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TrimLabels {
    what: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    result: String,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("asnd"),
            requests: Family::default(),
            notifications: Family::default(),
            rejections: Family::default(),
            duplicates: Counter::default(),
            request_seconds: latency_histogram(),
            database_seconds: latency_histogram(),
            last_stored: Family::default(),
            quarantine_rows: Gauge::default(),
            quarantine_trimmed: Family::default(),
            deliveries: Family::default(),
            deliveries_pending: Family::default(),
            deliveries_dead: Family::default(),
            oldest_pending: Family::default(),
            reconcile: Family::default(),
            reconcile_last_run: Gauge::default(),
            tls_expiry: Gauge::default(),
            ready: Gauge::default(),
        };
        let build: Family<VersionLabels, Gauge> = Family::default();
        build
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        // Name, help, metric: in the order of the exposition.
        let table: [(&str, &str, Box<dyn Metric>); 18] = [
            (
                "requests",
                "Notification requests by HTTP status and outcome",
                Box::new(m.requests.clone()),
            ),
            (
                "notifications",
                "Notifications stored, by type, subtype, environment and app",
                Box::new(m.notifications.clone()),
            ),
            (
                "rejections",
                "Refused requests by reason",
                Box::new(m.rejections.clone()),
            ),
            (
                "duplicates",
                "Notifications received again after being stored",
                Box::new(m.duplicates.clone()),
            ),
            (
                "request_duration_seconds",
                "Time to answer a notification request",
                Box::new(m.request_seconds.clone()),
            ),
            (
                "database_duration_seconds",
                "Time of the store step (one transaction) per notification",
                Box::new(m.database_seconds.clone()),
            ),
            (
                "last_stored_notification_timestamp_seconds",
                "When the last notification was stored, per app and environment (UNIX seconds)",
                Box::new(m.last_stored.clone()),
            ),
            (
                "quarantine_rows",
                "Rows in rejected_notifications",
                Box::new(m.quarantine_rows.clone()),
            ),
            (
                "quarantine_trimmed",
                "What keeping the quarantine within [quarantine] cost: rows dropped (beyond \
                 max_rows or retention) and bodies cut to max_body_bytes",
                Box::new(m.quarantine_trimmed.clone()),
            ),
            (
                "deliveries",
                "Delivery attempts to [[destinations]], by destination and result: delivered, \
                 failed (tried again later) or dead (given up)",
                Box::new(m.deliveries.clone()),
            ),
            (
                "deliveries_pending",
                "Deliveries waiting, per destination",
                Box::new(m.deliveries_pending.clone()),
            ),
            (
                "deliveries_dead",
                "Deliveries given up (kept until retried), per destination",
                Box::new(m.deliveries_dead.clone()),
            ),
            (
                "delivery_oldest_pending_age_seconds",
                "Age of the oldest waiting delivery, per destination (0 when none waits)",
                Box::new(m.oldest_pending.clone()),
            ),
            (
                "reconcile",
                "Reconciliation with Get Notification History: runs, skipped runs (another replica \
                 held the lock), notifications found new / duplicate / rejected, errors",
                Box::new(m.reconcile.clone()),
            ),
            (
                "reconcile_last_run_timestamp_seconds",
                "When reconciliation last finished (UNIX seconds; 0 = never)",
                Box::new(m.reconcile_last_run.clone()),
            ),
            (
                "tls_certificate_expiry_timestamp_seconds",
                "When the TLS certificate asnd presents expires (UNIX seconds; absent without TLS)",
                Box::new(m.tls_expiry.clone()),
            ),
            (
                "ready",
                "1 while this replica is ready (what /readyz answers 200 for), 0 otherwise",
                Box::new(m.ready.clone()),
            ),
            ("build_info", "The running asnd version", Box::new(build)),
        ];
        for (name, help, metric) in table {
            m.registry.register(name, help, AnyMetric(metric));
        }
        m
    }

    /// Lets other parts (reconciliation) register their own metrics.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn request(&self, status: u16, outcome: &str, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                status: status.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.request_seconds.observe(took.as_secs_f64());
    }

    pub fn stored(&self, labels: NotificationLabels, at_unix_seconds: f64) {
        self.last_stored
            .get_or_create(&AppEnvironmentLabels {
                app: labels.app.clone(),
                environment: labels.environment.clone(),
            })
            .set(at_unix_seconds);
        self.notifications.get_or_create(&labels).inc();
    }

    pub fn duplicate(&self) {
        self.duplicates.inc();
    }

    /// `reason` is a short class: a verification status name (`INVALID_ENVIRONMENT`) or the
    /// outcome (`forbidden`, `too_large`, `bad_request`, `unavailable`).
    pub fn rejected(&self, reason: &str) {
        self.rejections
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn database(&self, took: Duration) {
        self.database_seconds.observe(took.as_secs_f64());
    }

    pub fn set_quarantine_rows(&self, rows: i64) {
        self.quarantine_rows.set(rows);
    }

    /// Copies the pipeline's quarantine counters into the exposition.
    pub fn set_quarantine_trimmed(&self, trimmed: &QuarantineTrimmed) {
        for (what, value) in [("dropped", &trimmed.dropped), ("cut", &trimmed.cut)] {
            let counter = self
                .quarantine_trimmed
                .get_or_create(&TrimLabels { what: what.into() });
            counter
                .inner()
                .store(value.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Copies the delivery workers' counts, and the outbox's backlog read at `now_ms`.
    pub fn set_deliveries(
        &self,
        attempts: &[(String, &'static str, u64)],
        backlog: Option<&[Backlog]>,
        now_ms: i64,
    ) {
        for (destination, result, count) in attempts {
            let labels = DeliveryLabels {
                destination: destination.clone(),
                result: (*result).to_string(),
            };
            self.deliveries
                .get_or_create(&labels)
                .inner()
                .store(*count, Ordering::Relaxed);
        }
        let Some(backlog) = backlog else { return };
        // Destinations with nothing waiting or dead read 0, not their last value.
        for family in [&self.deliveries_pending, &self.deliveries_dead] {
            family.clear();
        }
        self.oldest_pending.clear();
        for row in backlog {
            let labels = DestinationLabels {
                destination: row.destination.clone(),
            };
            match row.state.as_str() {
                "pending" => {
                    self.deliveries_pending
                        .get_or_create(&labels)
                        .set(row.count);
                    let age = (now_ms - row.oldest).max(0) as f64 / 1000.0;
                    self.oldest_pending.get_or_create(&labels).set(age);
                }
                _ => {
                    self.deliveries_dead.get_or_create(&labels).set(row.count);
                }
            }
        }
    }

    /// Copies reconciliation's own counters (kept by the reconciler) into the exposition.
    pub fn set_reconcile(&self, s: &ReconcileSnapshot) {
        for (result, value) in [
            ("run", s.runs),
            ("skipped", s.skipped),
            ("new", s.new),
            ("duplicate", s.duplicate),
            ("rejected", s.rejected),
            ("error", s.errors),
        ] {
            let counter = self.reconcile.get_or_create(&ReconcileLabels {
                result: result.into(),
            });
            counter.inner().store(value, Ordering::Relaxed);
        }
        self.reconcile_last_run.set(s.last_run_ms as f64 / 1000.0);
    }

    /// The expiry (UNIX seconds) of the certificate served now.
    pub fn set_tls_expiry(&self, not_after_secs: i64) {
        self.tls_expiry.set(not_after_secs);
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
