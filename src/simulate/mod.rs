//! `asnd simulate`: signed notifications as Apple would send them, posted to a receiver over
//! HTTPS, one at a time (a type, a scenario) or many at once (load). The notifications themselves
//! are built in [`payloads`] (pure); this module prepares request bodies, sends them and measures.

pub mod mix;
pub mod payloads;
pub mod send_error;
mod v1;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use crate::apple::devchain::DevChain;
use crate::time::now_ms;
pub use payloads::{
    CATALOG, Event, Generator, Ids, Kind, Notice, PayloadError, Scenario, Target, V1_TYPES,
};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// One notification of a V2 type/subtype per body.
    V2(Kind),
    /// One V1 notification per body.
    V1(&'static str),
    /// A scenario; for many bodies, repeated with a new customer each time.
    Scenario { scenario: Scenario, v1: bool },
}

/// What signs V2 bodies and authenticates V1 bodies.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub chain: Option<&'a DevChain>,
    pub v1_password: Option<&'a str>,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("chain", &self.chain.map(|_| "DevChain"))
            .field("v1_password", &self.v1_password.map(|_| "***"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    Trust(String),
}

/// The events of `source` for one run: a scenario's steps in order, or one notification.
pub fn events(generator: &mut Generator, source: Source, at: i64) -> Vec<Event> {
    match source {
        Source::V2(kind) => vec![generator.single(kind, at)],
        Source::V1(t) => vec![generator.single_v1(t, at)],
        Source::Scenario {
            scenario,
            v1: false,
        } => generator.scenario(scenario, at),
        Source::Scenario { scenario, v1: true } => generator.scenario_v1(scenario, at),
    }
}

/// `count` unique request bodies (each notification its own UUID, each customer its own
/// transaction ids), built and signed on every core before anything is sent, so that the
/// measurement that follows times the receiver and not the signing.
pub fn prepare_bodies(
    target: &Target,
    source: Source,
    count: usize,
    credentials: Credentials<'_>,
) -> Result<Vec<(Notice, Bytes)>, PayloadError> {
    target.check()?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(count.max(1));
    let per_thread = count.div_ceil(threads);
    let at = now_ms();
    let chunks: Vec<Result<Vec<(Notice, Bytes)>, PayloadError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let want = per_thread.min(count.saturating_sub(i * per_thread));
                scope.spawn(move || {
                    let mut generator = Generator::new(target.clone());
                    let mut out = Vec::with_capacity(want);
                    while out.len() < want {
                        for event in events(&mut generator, source, at) {
                            if out.len() == want {
                                break;
                            }
                            let body =
                                event.body(target, credentials.chain, credentials.v1_password)?;
                            out.push((event.notice, Bytes::from(body)));
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut bodies = Vec::with_capacity(count);
    for chunk in chunks {
        bodies.extend(chunk?);
    }
    Ok(bodies)
}

/// The HTTP version a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1, one request at a time per connection.
    #[default]
    Http1,
    /// HTTP/2, every request multiplexed over one connection.
    Http2,
}

/// How to reach the receiver.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// DER certificates trusted for the receiver's TLS.
    pub roots: Vec<Vec<u8>>,
    /// Accept any certificate.
    pub insecure: bool,
    pub protocol: Protocol,
    /// Reuse connections (the default); off, every request pays a TLS handshake.
    pub keep_alive: bool,
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            roots: Vec::new(),
            insecure: false,
            protocol: Protocol::Http1,
            keep_alive: true,
            timeout: Duration::from_secs(30),
        }
    }
}

/// An HTTPS client (rustls with aws-lc-rs) trusting only the given roots.
pub fn client(options: &ClientOptions) -> Result<reqwest::Client, SimulateError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .timeout(options.timeout)
        .user_agent(concat!("asnd-simulate/", env!("CARGO_PKG_VERSION")));
    for der in &options.roots {
        let cert = reqwest::Certificate::from_der(der)
            .map_err(|e| SimulateError::Trust(format!("a trusted certificate is unusable: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    if options.insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder = match options.protocol {
        Protocol::Http1 => builder.http1_only(),
        Protocol::Http2 => builder.http2_prior_knowledge(),
    };
    if !options.keep_alive {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder
        .build()
        .map_err(|e| SimulateError::Client(e.to_string()))
}

/// One answer from the receiver.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The JSON body (`{"status": ..., "reason": ...}` from asnd), `Null` when not JSON.
    pub body: Value,
    /// From sending the request to the end of the response body.
    pub latency: Duration,
}

/// POSTs one body and reads the whole answer.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Bytes,
) -> Result<Answer, reqwest::Error> {
    let start = Instant::now();
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    let latency = start.elapsed();
    Ok(Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        latency,
    })
}

/// A short name for a failed request.
pub fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "response body"
    } else {
        "request"
    }
}

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub sent: usize,
    pub concurrency: usize,
    pub elapsed: Duration,
    /// `"200"`, `"503"`, ... and `"error (connect)"` etc. for requests without an answer.
    pub statuses: BTreeMap<String, u64>,
    /// Round-trip time of every answered request, sorted.
    pub latencies: Vec<Duration>,
    /// The first transport error, for the operator.
    pub first_error: Option<String>,
}

impl LoadReport {
    /// Nearest-rank percentile of the answered requests' latency.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    pub fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }

    /// Answered-or-not requests per second of wall time.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.sent as f64 / secs
        } else {
            0.0
        }
    }

    /// Every request was answered 200–206, which Apple counts as delivered.
    pub fn all_delivered(&self) -> bool {
        self.statuses.iter().all(|(status, _)| {
            status
                .parse::<u16>()
                .is_ok_and(|s| (200..=206).contains(&s))
        })
    }

    /// `name: value unit` lines, the headline (throughput) last.
    pub fn render(&self, protocol: Protocol, keep_alive: bool) -> String {
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let mut out = format!(
            "notifications: {}\nconcurrency: {} ({}, {})\nelapsed: {:.3} s\n",
            self.sent,
            self.concurrency,
            match protocol {
                Protocol::Http1 => "HTTP/1.1",
                Protocol::Http2 => "HTTP/2",
            },
            if keep_alive {
                "keep-alive"
            } else {
                "a new connection per request"
            },
            self.elapsed.as_secs_f64()
        );
        for (status, n) in &self.statuses {
            out.push_str(&format!("status {status}: {n}\n"));
        }
        if self.latencies.is_empty() {
            // Nothing was answered: no latency, and no throughput to speak of.
            out.push_str("no request was answered: nothing to measure\n");
            return out;
        }
        for (name, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0)] {
            out.push_str(&format!("latency {name}: {}\n", ms(self.percentile(p))));
        }
        out.push_str(&format!("latency max: {}\n", ms(self.max())));
        out.push_str(&format!(
            "throughput: {:.1} notifications/s\n",
            self.throughput()
        ));
        out
    }
}

/// Sends every body, `concurrency` at a time, and measures each round trip. `on_done` is called
/// after each request (a progress bar).
pub async fn load(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<Bytes>,
    concurrency: usize,
    on_done: impl Fn() + Send + Sync + 'static,
) -> LoadReport {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let on_done = Arc::new(on_done);
    let concurrency = concurrency.max(1);
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (bodies, next, on_done) = (bodies.clone(), next.clone(), on_done.clone());
            let (client, url) = (client.clone(), url.to_string());
            tokio::spawn(async move {
                let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
                let mut latencies = Vec::new();
                let mut first_error = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    match post(&client, &url, body.clone()).await {
                        Ok(answer) => {
                            *statuses.entry(answer.status.to_string()).or_default() += 1;
                            latencies.push(answer.latency);
                        }
                        Err(e) => {
                            *statuses
                                .entry(format!("error ({})", error_kind(&e)))
                                .or_default() += 1;
                            first_error.get_or_insert_with(|| send_error::describe(&e));
                        }
                    }
                    on_done();
                }
                (statuses, latencies, first_error)
            })
        })
        .collect();
    let mut report = LoadReport {
        sent: bodies.len(),
        concurrency,
        ..LoadReport::default()
    };
    for worker in workers {
        match worker.await {
            Ok((statuses, latencies, first_error)) => {
                for (k, v) in statuses {
                    *report.statuses.entry(k).or_default() += v;
                }
                report.latencies.extend(latencies);
                if report.first_error.is_none() {
                    report.first_error = first_error;
                }
            }
            Err(e) => {
                report.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    report.elapsed = start.elapsed();
    report.latencies.sort_unstable();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let report = LoadReport {
            sent: 100,
            latencies: (1..=100).map(Duration::from_millis).collect(),
            elapsed: Duration::from_secs(2),
            ..LoadReport::default()
        };
        assert_eq!(report.percentile(50.0), Duration::from_millis(50));
        assert_eq!(report.percentile(90.0), Duration::from_millis(90));
        assert_eq!(report.percentile(99.0), Duration::from_millis(99));
        assert_eq!(report.max(), Duration::from_millis(100));
        assert_eq!(report.throughput(), 50.0);
        let one = LoadReport {
            latencies: vec![Duration::from_millis(7)],
            ..LoadReport::default()
        };
        assert_eq!(one.percentile(0.0), Duration::from_millis(7));
        assert_eq!(one.percentile(99.0), Duration::from_millis(7));
        assert_eq!(LoadReport::default().percentile(50.0), Duration::ZERO);
    }

    #[test]
    fn delivered_means_200_to_206_only() {
        let mut report = LoadReport::default();
        report.statuses.insert("200".into(), 3);
        assert!(report.all_delivered());
        report.statuses.insert("503".into(), 1);
        assert!(!report.all_delivered());
        report.statuses.remove("503");
        report.statuses.insert("error (connect)".into(), 1);
        assert!(!report.all_delivered());
    }

    #[test]
    fn prepared_bodies_are_unique() {
        let chain = DevChain::generate(&Default::default()).unwrap();
        let bodies = prepare_bodies(
            &Target::default(),
            Source::Scenario {
                scenario: Scenario::Lifecycle,
                v1: false,
            },
            14,
            Credentials {
                chain: Some(&chain),
                v1_password: None,
            },
        )
        .unwrap();
        assert_eq!(bodies.len(), 14);
        let mut unique: Vec<&Bytes> = bodies.iter().map(|(_, b)| b).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 14);
        let v1 = prepare_bodies(
            &Target::default(),
            Source::V1("DID_RENEW"),
            3,
            Credentials {
                chain: None,
                v1_password: None,
            },
        );
        assert_eq!(v1.unwrap_err(), PayloadError::NoSecret);
    }
}
