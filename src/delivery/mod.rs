//! Events out: the delivery workers of `serve`. They lease due deliveries from the outbox
//! (`event_deliveries`, written in the transaction that stored each notification), send each to
//! its destination signed as Standard Webhooks specifies, and record the result: 2xx is delivered;
//! anything else, a timeout or a connection error is tried again with exponential backoff and
//! jitter, until `max_attempts`; 410 Gone gives up at once. At least once: a consumer dedupes on
//! `webhook-id`. Delivery never touches what Apple is answered.

pub mod event;
pub mod signing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::{Config, DestinationConfig, EventFormat, SYSTEM_CA_FILE};
use crate::store::outbox::event_id;
use crate::store::{AttemptResult, ClaimedDelivery, DeliveryState, Store};
use crate::time::now_ms;

use signing::Signer;

/// Without a wake-up (new rows of this process, `NOTIFY` of another), the outbox is looked at
/// this often: for retries coming due and for rows other processes wrote on SQLite.
const POLL: Duration = Duration::from_secs(1);
/// Delivered rows older than `[delivery] retention` are deleted this often.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The first retry comes after about this long; each further one after twice as long ...
const FIRST_RETRY: Duration = Duration::from_secs(2);
/// ... but never after more than this.
const LONGEST_GAP: Duration = Duration::from_secs(3600);
/// A lease outlives the longest attempt by this much; then another worker may take it.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// A delivery to a destination this replica does not know (a configuration being rolled out)
/// is left to the replicas that know it, and looked at again after this long.
const UNKNOWN_DESTINATION_DELAY: Duration = Duration::from_secs(60);

/// One `[[destinations]]` entry, ready to send.
#[derive(Debug)]
pub struct Destination {
    pub name: String,
    url: String,
    format: EventFormat,
    signer: Signer,
    client: reqwest::Client,
    max_attempts: u32,
}

impl Destination {
    /// Its HTTP client trusts the system's CA certificates (when the file exists) and `ca_file`.
    pub fn new(config: &DestinationConfig) -> Result<Destination, String> {
        let mut roots = Vec::new();
        if std::path::Path::new(SYSTEM_CA_FILE).exists() {
            roots.extend(
                crate::appstore_api::credentials::read_certificates(
                    "system CA certificates",
                    std::path::Path::new(SYSTEM_CA_FILE),
                )
                .map_err(|e| e.to_string())?,
            );
        }
        if let Some(path) = &config.ca_file {
            roots.extend(
                crate::appstore_api::credentials::read_certificates(
                    &format!("destination {} ca_file", config.name),
                    path,
                )
                .map_err(|e| e.to_string())?,
            );
        }
        // Roots may be none: only http:// can then be reached, and https:// fails each attempt
        // saying why. A redirected POST would become a GET without the event: a 3xx is a
        // failure to try again.
        let (builder, _) = crate::appstore_api::client::client_builder(&roots, config.timeout)
            .map_err(|e| format!("TLS: {e}"))?;
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Destination {
            name: config.name.clone(),
            url: config.url.clone(),
            format: config.format,
            signer: Signer::new(&config.secrets),
            client,
            max_attempts: config.max_attempts,
        })
    }
}

/// Counts of attempts by destination and result, since start (for metrics).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    counts: Mutex<HashMap<(String, &'static str), u64>>,
}

impl DeliveryStats {
    fn count(&self, destination: &str, result: &'static str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((destination.to_string(), result)).or_default() += 1;
    }

    /// `(destination, result, count)` for every pair seen.
    pub fn snapshot(&self) -> Vec<(String, &'static str, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|((d, r), n)| (d.clone(), *r, *n))
            .collect()
    }
}

/// The workers of one replica.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    destinations: HashMap<String, Arc<Destination>>,
    wake: Arc<Notify>,
    stats: Arc<DeliveryStats>,
    concurrency: usize,
    lease: Duration,
    retention: Duration,
}

impl Dispatcher {
    /// The dispatcher of `config`'s destinations; `None` when there are none.
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        wake: Arc<Notify>,
        stats: Arc<DeliveryStats>,
    ) -> Result<Option<Dispatcher>, String> {
        if config.destinations.is_empty() {
            return Ok(None);
        }
        let mut destinations = HashMap::new();
        for d in &config.destinations {
            let destination =
                Destination::new(d).map_err(|e| format!("destination {}: {e}", d.name))?;
            destinations.insert(d.name.clone(), Arc::new(destination));
        }
        let longest = config
            .destinations
            .iter()
            .map(|d| d.timeout)
            .max()
            .unwrap_or_default();
        Ok(Some(Dispatcher {
            store,
            destinations,
            wake,
            stats,
            concurrency: config.delivery.concurrency,
            lease: longest + LEASE_MARGIN,
            retention: config.delivery.retention,
        }))
    }

    /// Works the outbox until `shutdown` turns true, then lets the attempts under way finish
    /// (each bounded by its destination's timeout).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        if let Err(e) = self.store.subscribe_events(self.wake.clone()).await {
            tracing::warn!(error = %e, "cannot listen for other replicas' events; polling instead");
        }
        let this = Arc::new(self);
        let mut in_flight = JoinSet::new();
        let mut last_prune: Option<Instant> = None;
        // Whether this turn began because an attempt finished (rather than a wake-up or the poll).
        let mut after_an_attempt = false;
        while !*shutdown.borrow() {
            // Leasing costs a statement that looks over the due rows: after an attempt finishes,
            // take a batch only once half the slots are free, not one row per attempt; a wake-up
            // or the poll leases whatever is free, so slow destinations never hold up the rest.
            let free = this.concurrency.saturating_sub(in_flight.len());
            let worth_it =
                !after_an_attempt || in_flight.is_empty() || free * 2 >= this.concurrency;
            if free > 0 && worth_it {
                let now = now_ms();
                let lease_until = now + this.lease.as_millis() as i64;
                match this
                    .store
                    .outbox()
                    .claim(now, lease_until, free as i64)
                    .await
                {
                    Ok(claimed) => {
                        for delivery in claimed {
                            let this = this.clone();
                            in_flight.spawn(async move { this.attempt(delivery).await });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the outbox"),
                }
            }
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                this.prune().await;
            }
            after_an_attempt = tokio::select! {
                _ = this.wake.notified() => false,
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => true,
                _ = tokio::time::sleep(POLL) => false,
                _ = shutdown.changed() => false,
            };
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn prune(&self) {
        let before = now_ms() - self.retention.as_millis() as i64;
        match self.store.outbox().prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                "delivered rows past [delivery] retention deleted"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot prune delivered rows"),
        }
    }

    /// One attempt of `delivery`, its result recorded and logged (one line per attempt).
    async fn attempt(&self, delivery: ClaimedDelivery) {
        let started = Instant::now();
        let Some(destination) = self.destinations.get(&delivery.destination) else {
            let later = AttemptResult {
                state: DeliveryState::Pending,
                next_attempt_at: now_ms() + UNKNOWN_DESTINATION_DELAY.as_millis() as i64,
                delivered_at: None,
                status: None,
                error: Some("destination not configured on this replica".into()),
                // Not an attempt: nothing was sent.
                attempts: delivery.attempts - 1,
            };
            self.finish(&delivery, &later).await;
            return;
        };
        let (status, error) = self.send(destination, &delivery).await;
        let result = outcome(destination, &delivery, status, error);
        let word = match result.state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
            DeliveryState::Pending => "failed",
        };
        tracing::info!(
            destination = %destination.name,
            event_id = %event_id(delivery.notification_id),
            attempt = delivery.attempts,
            status = result.status,
            result = word,
            error = result.error.as_deref().unwrap_or(""),
            latency_ms = started.elapsed().as_millis() as u64,
            "delivery attempt"
        );
        self.finish(&delivery, &result).await;
        // Counted once recorded, so that the counts never run ahead of the outbox.
        self.stats.count(&destination.name, word);
    }

    async fn finish(&self, delivery: &ClaimedDelivery, result: &AttemptResult) {
        match self.store.outbox().finish(delivery, result).await {
            Ok(true) => {}
            // Another worker leased it after this lease ran out; its result stands.
            Ok(false) => tracing::warn!(
                delivery = delivery.id,
                "a delivery attempt outlived its lease; its result is not recorded"
            ),
            // The lease runs out and the delivery is attempted again: at least once.
            Err(e) => {
                tracing::warn!(error = %e, delivery = delivery.id, "cannot record a delivery attempt")
            }
        }
    }

    /// Sends the event: the HTTP status, or why there was none.
    async fn send(
        &self,
        destination: &Destination,
        delivery: &ClaimedDelivery,
    ) -> (Option<i64>, Option<String>) {
        let event = match self
            .store
            .outbox()
            .stored_event(delivery.notification_id)
            .await
        {
            Ok(Some(event)) => event,
            Ok(None) => return (None, Some("the notification is no longer stored".into())),
            Err(e) => return (None, Some(format!("cannot read the notification: {e}"))),
        };
        let body = match destination.format {
            EventFormat::Apple => event.raw_body,
            EventFormat::Event => event::event_body(&event),
        };
        let id = event_id(delivery.notification_id);
        let timestamp = now_ms() / 1000;
        let signature = destination.signer.signature(&id, timestamp, &body);
        let request = destination
            .client
            .post(&destination.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                (Some(i64::from(response.status().as_u16())), None)
            }
            Ok(response) => {
                let status = response.status();
                (
                    Some(i64::from(status.as_u16())),
                    Some(format!("answered {status}")),
                )
            }
            // Without the URL, which may hold credentials (it is logged and stored).
            Err(e) => (
                None,
                Some(crate::error_chain::error_chain(&e.without_url())),
            ),
        }
    }
}

/// What an attempt's answer means for the delivery.
fn outcome(
    destination: &Destination,
    delivery: &ClaimedDelivery,
    status: Option<i64>,
    error: Option<String>,
) -> AttemptResult {
    let now = now_ms();
    let state = match (status, &error) {
        (Some(_), None) => DeliveryState::Delivered,
        // 410 Gone: the consumer wants no more of it.
        (Some(410), _) => DeliveryState::Dead,
        _ if delivery.attempts >= i64::from(destination.max_attempts) => DeliveryState::Dead,
        _ => DeliveryState::Pending,
    };
    AttemptResult {
        state,
        next_attempt_at: now + backoff(delivery.attempts, delivery.id).as_millis() as i64,
        delivered_at: (state == DeliveryState::Delivered).then_some(now),
        status,
        error,
        attempts: delivery.attempts,
    }
}

/// The wait before the attempt after `attempts`: `FIRST_RETRY` doubled per attempt, at most
/// `LONGEST_GAP`, less up to a fifth at random (spread by `seed`, so that deliveries that failed
/// together do not all come back at once).
fn backoff(attempts: i64, seed: i64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let full = FIRST_RETRY.saturating_mul(1 << exponent).min(LONGEST_GAP);
    let spread = (seed as u64 ^ now_ms() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1000;
    full - full.mul_f64(spread as f64 / 5000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_within_seconds_doubles_and_is_bounded() {
        for seed in 0..50 {
            let first = backoff(1, seed);
            assert!(
                first <= FIRST_RETRY && first >= FIRST_RETRY.mul_f64(0.8),
                "{first:?}"
            );
            let third = backoff(3, seed);
            assert!(third <= FIRST_RETRY * 4 && third >= (FIRST_RETRY * 4).mul_f64(0.8));
            assert!(backoff(40, seed) <= LONGEST_GAP);
            assert!(backoff(40, seed) >= LONGEST_GAP.mul_f64(0.8));
        }
    }
}
