//! `asnd simulate --mix`: a mixed load for a length of time, at a steady rate, as a receiver sees
//! it in the wild: new notifications, Apple's retries of ones already stored (duplicates), V1
//! bodies, bodies that fail verification, oversized bodies and slow clients. Every few seconds it
//! reports one CSV line (answers by class, latency percentiles, error rate), and it can record
//! every acknowledged notification so that a soak can check each one is in the database.

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use tokio::sync::Semaphore;

use super::{Event, Generator, Kind, Target, post};
use crate::apple::devchain::DevChain;

/// The body size of an `oversized` request: four times the default `server.max_body_bytes`.
pub const OVERSIZED_BYTES: usize = 1024 * 1024;
/// A `slow` client sends its body in this many pieces, [`SLOW_PAUSE`] apart.
const SLOW_PIECES: usize = 8;
const SLOW_PAUSE: Duration = Duration::from_millis(250);
/// How many acknowledged bodies are kept to be sent again as duplicates.
const DUPLICATE_POOL: usize = 256;

/// One kind of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// A new V2 notification (`DID_RENEW` of a new customer).
    New,
    /// A body already acknowledged, sent again as Apple does when it missed the answer.
    Duplicate,
    /// A V1 notification (needs the app's shared secret).
    V1,
    /// A V2 notification whose signature does not verify.
    Invalid,
    /// A body of [`OVERSIZED_BYTES`]. asnd answers 413 as soon as the declared length is over
    /// its limit and closes without reading the rest, so a client still sending may see the
    /// connection closed instead: both are the expected refusal.
    Oversized,
    /// A new V2 notification whose body arrives in pieces over two seconds.
    Slow,
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::New,
        Part::Duplicate,
        Part::V1,
        Part::Invalid,
        Part::Oversized,
        Part::Slow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Part::New => "new",
            Part::Duplicate => "duplicate",
            Part::V1 => "v1",
            Part::Invalid => "invalid",
            Part::Oversized => "oversized",
            Part::Slow => "slow",
        }
    }

    /// Whether `status` is the answer a correct receiver gives this part. A 5xx is never
    /// expected: it is counted as unavailable, not as wrong.
    pub fn expects(self, status: u16) -> bool {
        match self {
            Part::New | Part::Duplicate | Part::V1 | Part::Slow => (200..=206).contains(&status),
            Part::Invalid => (400..500).contains(&status) && status != 408 && status != 413,
            Part::Oversized => status == 413,
        }
    }

    /// Whether its latency tells how fast the receiver answers (slow clients and oversized
    /// bodies time the client instead).
    fn is_timed(self) -> bool {
        !matches!(self, Part::Slow | Part::Oversized)
    }
}

/// Weights of the parts, e.g. `new=70,duplicate=10,v1=8,invalid=8,oversized=2,slow=2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    weights: Vec<(Part, u32)>,
    total: u32,
}

impl Mix {
    /// The soak's mix.
    pub const DEFAULT: &'static str = "new=70,duplicate=10,v1=8,invalid=8,oversized=2,slow=2";

    pub fn has(&self, part: Part) -> bool {
        self.weights.iter().any(|(p, w)| *p == part && *w > 0)
    }

    /// The part for a uniformly drawn `roll`.
    fn pick(&self, roll: u32) -> Part {
        let mut left = roll % self.total;
        for (part, weight) in &self.weights {
            if left < *weight {
                return *part;
            }
            left -= weight;
        }
        Part::New
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(spec: &str) -> Result<Mix, String> {
        let names = || {
            Part::ALL
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut weights: Vec<(Part, u32)> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, weight) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?} is not NAME=WEIGHT (names: {})", names()))?;
            let part = Part::ALL
                .into_iter()
                .find(|p| p.name() == name.trim())
                .ok_or_else(|| format!("unknown part {name:?} (names: {})", names()))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("the weight of {name} must be a whole number"))?;
            if weight > 1_000_000 {
                return Err(format!("the weight of {name} is over 1000000"));
            }
            if weights.iter().any(|(p, _)| *p == part) {
                return Err(format!("{name} is given twice"));
            }
            weights.push((part, weight));
        }
        let total = weights.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return Err("the mix needs at least one part with a weight above 0".into());
        }
        Ok(Mix { weights, total })
    }
}

/// How to run a mix.
#[derive(Debug, Clone)]
pub struct MixOptions {
    pub mix: Mix,
    /// Requests started per second.
    pub rate: f64,
    pub duration: Duration,
    /// At most this many requests in flight; when all are, new ones wait.
    pub concurrency: usize,
    /// How often a CSV line is written.
    pub report_every: Duration,
}

/// The CSV columns of each report line.
pub const CSV_HEADER: &str =
    "elapsed_s,requests,ok,refused,unavailable,no_answer,unexpected,p50_ms,p99_ms,error_rate";

/// The answers of one reporting interval.
#[derive(Debug, Clone, Default)]
struct Tally {
    requests: u64,
    /// 2xx, 4xx, 5xx answers, and requests without an answer.
    ok: u64,
    refused: u64,
    unavailable: u64,
    no_answer: u64,
    /// Answers that are not the ones expected for their part (never 5xx).
    unexpected: u64,
    latencies: Vec<Duration>,
}

impl Tally {
    fn count(&mut self, part: Part, answer: Result<(u16, Duration), ()>) {
        self.requests += 1;
        match answer {
            Ok((status, latency)) => {
                match status {
                    200..=299 => self.ok += 1,
                    500..=599 => self.unavailable += 1,
                    _ => self.refused += 1,
                }
                if status < 500 && !part.expects(status) {
                    self.unexpected += 1;
                }
                if part.is_timed() {
                    self.latencies.push(latency);
                }
            }
            // The refusal of an oversized body can reach the client as a closed connection.
            Err(()) if part == Part::Oversized => self.refused += 1,
            Err(()) => self.no_answer += 1,
        }
    }

    fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        (self.unavailable + self.no_answer) as f64 / self.requests as f64
    }

    fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.sort_unstable();
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1].as_secs_f64() * 1000.0
    }

    fn csv(&mut self, elapsed: Duration) -> String {
        let (p50, p99) = (self.percentile_ms(50.0), self.percentile_ms(99.0));
        format!(
            "{:.1},{},{},{},{},{},{},{:.2},{:.2},{:.4}",
            elapsed.as_secs_f64(),
            self.requests,
            self.ok,
            self.refused,
            self.unavailable,
            self.no_answer,
            self.unexpected,
            p50,
            p99,
            self.error_rate()
        )
    }
}

/// What a whole run got, by part and status (`"200"`, `"no answer"`).
#[derive(Debug, Clone, Default)]
pub struct MixReport {
    pub by_part: BTreeMap<(Part, String), u64>,
    pub unexpected: u64,
    pub requests: u64,
}

impl MixReport {
    /// Every answer was the one expected for its part (no 5xx, none left unanswered).
    pub fn all_as_expected(&self) -> bool {
        self.by_part
            .keys()
            .all(|(part, status)| is_expected(*part, status))
    }

    pub fn render(&self) -> String {
        let mut out = format!("requests: {}\n", self.requests);
        for ((part, status), n) in &self.by_part {
            let mark = if is_expected(*part, status) {
                ""
            } else {
                "  (not expected)"
            };
            out.push_str(&format!("{} {status}: {n}{mark}\n", part.name()));
        }
        out
    }
}

/// How an oversized body's refusal is reported when the server closed before answering.
const CLOSED: &str = "closed while sending";

fn is_expected(part: Part, status: &str) -> bool {
    match status.parse::<u16>() {
        Ok(s) => part.expects(s),
        Err(_) => part == Part::Oversized && status == CLOSED,
    }
}

/// Everything the request tasks share.
struct Shared {
    client: reqwest::Client,
    url: String,
    target: Target,
    chain: Option<Arc<DevChain>>,
    v1_password: Option<String>,
    tally: Mutex<Tally>,
    report: Mutex<MixReport>,
    /// Acknowledged bodies, sent again as duplicates.
    acked: Mutex<Vec<Bytes>>,
    /// Where `v2 UUID` / `v1 TRANSACTION_ID` is written for each acknowledged notification.
    acked_log: Option<Mutex<Box<dyn Write + Send>>>,
    oversized: Bytes,
}

/// Where and as what the mix is sent.
pub struct Receiver {
    pub client: reqwest::Client,
    pub url: String,
    /// What the notifications claim (app, environment).
    pub target: Target,
    /// Signs the V2 bodies.
    pub chain: Option<Arc<DevChain>>,
    /// The app's shared secret, for the V1 bodies.
    pub v1_password: Option<String>,
}

/// Runs `options` against `receiver` and writes one CSV line per interval to `out` (the header
/// first). `acked_log` receives one line per newly acknowledged notification.
pub async fn run(
    receiver: Receiver,
    options: &MixOptions,
    acked_log: Option<Box<dyn Write + Send>>,
    mut out: impl Write,
) -> std::io::Result<MixReport> {
    let Receiver {
        client,
        url,
        target,
        chain,
        v1_password,
    } = receiver;
    let shared = Arc::new(Shared {
        client,
        url,
        target,
        chain,
        v1_password,
        tally: Mutex::new(Tally::default()),
        report: Mutex::new(MixReport::default()),
        acked: Mutex::new(Vec::new()),
        acked_log: acked_log.map(Mutex::new),
        oversized: oversized_body(),
    });
    writeln!(out, "{CSV_HEADER}")?;
    out.flush()?;
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / options.rate.max(0.001)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_report = start + options.report_every;
    while start.elapsed() < options.duration {
        tokio::select! {
            _ = ticker.tick() => {
                let Ok(permit) = slots.clone().acquire_owned().await else { break };
                let part = options.mix.pick(roll());
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    one(&shared, part).await;
                });
            }
            _ = tokio::time::sleep_until(next_report.into()) => {
                report_line(&shared, start, &mut out)?;
                next_report += options.report_every;
            }
        }
    }
    // Let the requests in flight finish, then the last line.
    let _ = slots.acquire_many(options.concurrency.max(1) as u32).await;
    report_line(&shared, start, &mut out)?;
    let report = shared.report.lock().expect("report").clone();
    Ok(report)
}

fn report_line(shared: &Shared, start: Instant, out: &mut impl Write) -> std::io::Result<()> {
    let line = std::mem::take(&mut *shared.tally.lock().expect("tally")).csv(start.elapsed());
    writeln!(out, "{line}")?;
    out.flush()?;
    if let Some(log) = &shared.acked_log {
        log.lock().expect("acked log").flush()?;
    }
    Ok(())
}

/// A uniformly random number, for picking parts.
fn roll() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}

/// Sends one request of `part` and counts its answer.
async fn one(shared: &Shared, part: Part) {
    let (part, body, acked_as) = match prepare(shared, part) {
        Some(prepared) => prepared,
        None => return,
    };
    let answer = if part == Part::Slow {
        post_slowly(&shared.client, &shared.url, body.clone()).await
    } else {
        post(&shared.client, &shared.url, body.clone())
            .await
            .map(|a| (a.status, a.latency))
            .map_err(|_| ())
    };
    if let Ok((status, _)) = answer
        && (200..=206).contains(&status)
        && let Some(line) = acked_as
    {
        if let Some(log) = &shared.acked_log {
            let _ = writeln!(log.lock().expect("acked log"), "{line}");
        }
        let mut acked = shared.acked.lock().expect("acked");
        if acked.len() < DUPLICATE_POOL {
            acked.push(body);
        } else {
            let i = roll() as usize % DUPLICATE_POOL;
            acked[i] = body;
        }
    }
    shared.tally.lock().expect("tally").count(part, answer);
    let key = match answer {
        Ok((status, _)) => status.to_string(),
        Err(()) if part == Part::Oversized => CLOSED.to_owned(),
        Err(()) => "no answer".to_owned(),
    };
    let mut report = shared.report.lock().expect("report");
    report.requests += 1;
    if matches!(answer, Ok((s, _)) if s < 500 && !part.expects(s)) {
        report.unexpected += 1;
    }
    *report.by_part.entry((part, key)).or_default() += 1;
}

/// The body of one request, the part it really is (a duplicate before anything was acknowledged
/// is a new one), and the acknowledged-log line if it is a new notification.
fn prepare(shared: &Shared, part: Part) -> Option<(Part, Bytes, Option<String>)> {
    if part == Part::Duplicate {
        let acked = shared.acked.lock().expect("acked");
        if !acked.is_empty() {
            let body = acked[roll() as usize % acked.len()].clone();
            return Some((part, body, None));
        }
    }
    let part = if part == Part::Duplicate {
        Part::New
    } else {
        part
    };
    if part == Part::Oversized {
        return Some((part, shared.oversized.clone(), None));
    }
    let mut generator = Generator::new(shared.target.clone());
    let at = crate::time::now_ms();
    let event: Event = if part == Part::V1 {
        generator.single_v1("DID_RENEW", at)
    } else {
        generator.single(Kind::parse("DID_RENEW", None).ok()?, at)
    };
    let body = event
        .body(
            &shared.target,
            shared.chain.as_deref(),
            shared.v1_password.as_deref(),
        )
        .ok()?;
    if part == Part::Invalid {
        return Some((part, Bytes::from(break_signature(&body)), None));
    }
    let line = if event.is_v1() {
        format!("v1 {}", event.transaction_id.clone().unwrap_or_default())
    } else {
        format!("v2 {}", event.uuid)
    };
    Some((part, Bytes::from(body), Some(line)))
}

/// The same `{"signedPayload": ...}` with one character of the outer signature changed.
fn break_signature(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let jws = value["signedPayload"].as_str().unwrap_or_default();
    let Some(dot) = jws.rfind('.') else {
        return body.to_owned();
    };
    let mut broken = jws.to_owned();
    // A character in the middle of the signature: all six of its bits count.
    let i = dot + (jws.len() - dot) / 2;
    let replacement = if &jws[i..=i] == "A" { "B" } else { "A" };
    broken.replace_range(i..=i, replacement);
    json!({ "signedPayload": broken }).to_string()
}

/// A JSON body of [`OVERSIZED_BYTES`].
fn oversized_body() -> Bytes {
    let filler = "A".repeat(OVERSIZED_BYTES - r#"{"signedPayload":""}"#.len());
    Bytes::from(format!(r#"{{"signedPayload":"{filler}"}}"#))
}

/// POSTs `body` in [`SLOW_PIECES`] pieces, [`SLOW_PAUSE`] apart, with its length declared.
async fn post_slowly(
    client: &reqwest::Client,
    url: &str,
    body: Bytes,
) -> Result<(u16, Duration), ()> {
    let len = body.len();
    let piece = len.div_ceil(SLOW_PIECES).max(1);
    let pieces = futures_util::stream::unfold(body, move |mut rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(SLOW_PAUSE).await;
        let next = rest.split_to(piece.min(rest.len()));
        Some((Ok::<Bytes, std::io::Error>(next), rest))
    });
    let started = Instant::now();
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("content-length", len)
        .body(reqwest::Body::wrap_stream(pieces))
        .send()
        .await
        .map_err(|_| ())?;
    let status = response.status().as_u16();
    response.bytes().await.map_err(|_| ())?;
    Ok((status, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_is_parsed_with_its_weights() {
        let mix: Mix = Mix::DEFAULT.parse().unwrap();
        assert_eq!(mix.total, 100);
        assert!(mix.has(Part::V1) && mix.has(Part::Slow));
        // Rolls map onto the parts in the order given, each as often as its weight.
        let mut seen = BTreeMap::new();
        for roll in 0..100 {
            *seen.entry(mix.pick(roll)).or_insert(0) += 1;
        }
        assert_eq!(seen[&Part::New], 70);
        assert_eq!(seen[&Part::Oversized], 2);
        let only_new: Mix = "new=1, v1=0".parse().unwrap();
        assert!(!only_new.has(Part::V1));
        assert_eq!(only_new.pick(12345), Part::New);
    }

    #[test]
    fn bad_mixes_say_what_is_wrong() {
        for (spec, says) in [
            ("", "at least one part"),
            ("new=0", "at least one part"),
            ("fresh=1", "unknown part \"fresh\""),
            ("new", "is not NAME=WEIGHT"),
            ("new=-1", "whole number"),
            ("new=1,new=2", "given twice"),
        ] {
            let err = spec.parse::<Mix>().unwrap_err();
            assert!(err.contains(says), "{spec:?}: {err}");
        }
    }

    #[test]
    fn expected_answers_by_part() {
        assert!(Part::New.expects(200) && !Part::New.expects(422));
        assert!(Part::Invalid.expects(422) && !Part::Invalid.expects(200));
        assert!(Part::Oversized.expects(413) && !Part::Oversized.expects(400));
        // A 5xx is never what a part expects.
        assert!(Part::ALL.iter().all(|p| !p.expects(503)));
    }

    #[test]
    fn a_tally_separates_errors_from_wrong_answers() {
        let mut t = Tally::default();
        t.count(Part::New, Ok((200, Duration::from_millis(10))));
        t.count(Part::New, Ok((503, Duration::from_millis(20))));
        t.count(Part::Invalid, Ok((200, Duration::from_millis(30))));
        t.count(Part::Slow, Ok((200, Duration::from_secs(2))));
        t.count(Part::New, Err(()));
        assert_eq!(
            (t.ok, t.unavailable, t.no_answer, t.unexpected),
            (3, 1, 1, 1)
        );
        assert_eq!(t.error_rate(), 2.0 / 5.0);
        // The slow client's two seconds time the client, not the receiver.
        assert_eq!(t.percentile_ms(99.0), 30.0);
    }

    #[test]
    fn a_broken_signature_changes_only_the_signature() {
        let body = json!({"signedPayload": "aGVhZA.Ym9keQ.c2lnbmF0dXJlc2lnbmF0dXJl"}).to_string();
        let broken = break_signature(&body);
        let jws: serde_json::Value = serde_json::from_str(&broken).unwrap();
        let jws = jws["signedPayload"].as_str().unwrap();
        assert!(jws.starts_with("aGVhZA.Ym9keQ."));
        assert_ne!(jws, "aGVhZA.Ym9keQ.c2lnbmF0dXJlc2lnbmF0dXJl");
        assert_eq!(jws.len(), "aGVhZA.Ym9keQ.c2lnbmF0dXJlc2lnbmF0dXJl".len());
    }
}
