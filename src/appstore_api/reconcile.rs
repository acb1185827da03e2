//! Reconciliation inside `serve`: every `[reconcile] interval`, for each app with an `[apps.api]`
//! section and each of its environments, backfill the notifications of the last `lookback` that
//! did not reach us (`onlyFailures`). This closes the gap Apple's retries leave: Sandbox never
//! retries, and Production stops after about 6.5 days.
//!
//! One replica at a time: a run first takes the store's exclusive lock (a PostgreSQL advisory
//! lock; on SQLite every run gets it) and is skipped when another replica holds it. The counts are
//! kept in [`ReconcileStats`] for the metrics endpoint to export.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::backfill::{BackfillError, BackfillReport, BackfillRequest, backfill};
use super::client::{ApiClient, ApiError, RetryPolicy, api_base_url};
use super::{ApiEnvironment, now_ms};
use crate::config::Config;
use crate::ingest::Pipeline;
use crate::store::RECONCILE_LOCK_KEY;

/// Counters since start, for metrics. Cheap to read from any thread.
#[derive(Debug, Default)]
pub struct ReconcileStats {
    /// Runs that took the lock and went through every app and environment.
    pub runs: AtomicU64,
    /// Runs skipped because another replica held the lock.
    pub skipped: AtomicU64,
    pub new: AtomicU64,
    pub duplicate: AtomicU64,
    pub rejected: AtomicU64,
    /// Failed app/environment passes (API or database errors), and runs that could not even try.
    pub errors: AtomicU64,
    /// When the last run finished, milliseconds since the epoch; 0 = never.
    pub last_run_ms: AtomicI64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileSnapshot {
    pub runs: u64,
    pub skipped: u64,
    pub new: u64,
    pub duplicate: u64,
    pub rejected: u64,
    pub errors: u64,
    pub last_run_ms: i64,
}

impl ReconcileStats {
    pub fn snapshot(&self) -> ReconcileSnapshot {
        ReconcileSnapshot {
            runs: self.runs.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            new: self.new.load(Ordering::Relaxed),
            duplicate: self.duplicate.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            last_run_ms: self.last_run_ms.load(Ordering::Relaxed),
        }
    }

    fn add(&self, report: &BackfillReport) {
        self.new.fetch_add(report.new, Ordering::Relaxed);
        self.duplicate
            .fetch_add(report.duplicate, Ordering::Relaxed);
        self.rejected.fetch_add(report.rejected, Ordering::Relaxed);
    }
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Another replica holds the lock.
    Skipped,
    /// The lock could not even be asked for (database down).
    Failed(String),
    /// Went through every target: the sum of their reports and the errors met.
    Ran {
        report: BackfillReport,
        errors: Vec<String>,
    },
}

/// One app in one environment.
#[derive(Debug, Clone)]
struct Target {
    bundle_id: String,
    client: ApiClient,
}

/// Runs the `onlyFailures` backfill for every configured target.
#[derive(Debug, Clone)]
pub struct Reconciler {
    pipeline: Pipeline,
    targets: Vec<Target>,
    lookback: Duration,
    stats: Arc<ReconcileStats>,
}

impl Reconciler {
    /// Every app with an `[apps.api]` section, in each environment it accepts.
    pub fn from_config(
        config: &Config,
        pipeline: Pipeline,
        stats: Arc<ReconcileStats>,
    ) -> Result<Reconciler, ApiError> {
        let mut targets = Vec::new();
        for app in &config.apps {
            let Some(api) = &app.api else { continue };
            let (http, signer) = ApiClient::parts(app, api)?;
            for environment in ApiEnvironment::ALL {
                if !app.accepts(environment.as_str()) {
                    continue;
                }
                targets.push(Target {
                    bundle_id: app.bundle_id.clone(),
                    client: ApiClient::new(
                        http.clone(),
                        api_base_url(api, environment),
                        environment,
                        signer.clone(),
                    ),
                });
            }
        }
        Ok(Reconciler {
            pipeline,
            targets,
            lookback: config.reconcile.lookback,
            stats,
        })
    }

    /// Uses `retry` for every request to Apple.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Reconciler {
        for t in &mut self.targets {
            t.client = t.client.clone().with_retry(retry);
        }
        self
    }

    pub fn stats(&self) -> Arc<ReconcileStats> {
        self.stats.clone()
    }

    /// One run: take the lock, backfill each target's recent failures, release the lock.
    pub async fn run_once(&self) -> RunOutcome {
        let lock = match self.pipeline.store.try_lock(RECONCILE_LOCK_KEY).await {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::info!("reconcile: another replica is running it; skipped");
                return RunOutcome::Skipped;
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "reconcile: cannot take the lock; skipped");
                return RunOutcome::Failed(e.to_string());
            }
        };
        let mut total = BackfillReport::default();
        let mut errors = Vec::new();
        for target in &self.targets {
            let environment = target.client.environment();
            let now = now_ms();
            // Apple keeps 30 days of Sandbox history; a longer lookback is cut to it (less a
            // minute for clock skew).
            let longest = environment.history_days() * 86_400_000 - 60_000;
            let lookback = i64::try_from(self.lookback.as_millis())
                .unwrap_or(i64::MAX)
                .min(longest);
            let request = BackfillRequest {
                start_ms: now - lookback,
                end_ms: now,
                only_failures: true,
                ..Default::default()
            };
            let report =
                match backfill(&target.client, &self.pipeline, &request, None, &mut |_| {}).await {
                    Ok(report) => report,
                    Err(e) => {
                        let message = format!("{} {environment}: {e}", target.bundle_id);
                        tracing::warn!(error = %message, "reconcile: pass failed");
                        self.stats.errors.fetch_add(1, Ordering::Relaxed);
                        errors.push(message);
                        match e {
                            BackfillError::Interrupted { report, .. } => report,
                            BackfillError::Invalid(_) => BackfillReport::default(),
                        }
                    }
                };
            self.stats.add(&report);
            if report.notifications() > 0 {
                tracing::info!(
                    app = %target.bundle_id,
                    %environment,
                    new = report.new,
                    duplicate = report.duplicate,
                    rejected = report.rejected,
                    "reconcile: notifications Apple failed to deliver"
                );
            }
            total.pages += report.pages;
            total.new += report.new;
            total.duplicate += report.duplicate;
            total.rejected += report.rejected;
            total.attempts_recorded += report.attempts_recorded;
            total.rejections.extend(report.rejections);
        }
        lock.release().await;
        self.stats.runs.fetch_add(1, Ordering::Relaxed);
        self.stats.last_run_ms.store(now_ms(), Ordering::Relaxed);
        RunOutcome::Ran {
            report: total,
            errors,
        }
    }

    /// Runs at once and then every `interval`, until `shutdown` turns true. A run in progress at
    /// shutdown is abandoned: everything it did is committed, and its lock's session closes.
    pub fn spawn(self, interval: Duration, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    _ = self.run_once() => {}
                }
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        })
    }
}
