//! `[[destinations]]` and `[delivery]`: where every stored notification is sent on, and how long
//! delivered rows are kept.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::apps::{AppEnvironment, secret_list};
use crate::secret::Secret;

/// What a destination receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EventFormat {
    /// asnd's documented event JSON (docs/events.md).
    #[default]
    Event,
    /// Apple's exact request body, byte for byte.
    Apple,
}

/// One `[[destinations]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DestinationConfig {
    /// Unique; names the destination in metrics, logs and `asnd deliveries`.
    pub name: String,
    /// `http://` (an internal backend) or `https://`.
    pub url: String,
    pub format: EventFormat,
    /// Standard Webhooks signing secrets, `whsec_<base64>`; one signature per secret, so that a
    /// secret can be rotated. Best from the environment: `ASND_DESTINATIONS__0__SECRETS`.
    #[serde(deserialize_with = "secret_list")]
    pub secrets: Vec<Secret<String>>,
    /// Only these apps (bundle ids); all when empty.
    pub apps: Vec<String>,
    /// Only these environments; both when empty.
    pub environments: Vec<AppEnvironment>,
    /// Only these types, `TYPE` or `TYPE/SUBTYPE`; all when empty.
    pub types: Vec<String>,
    /// Bound on one delivery attempt.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts before the delivery is dead (kept, listed, retryable).
    pub max_attempts: u32,
    /// More CA certificates (PEM or DER) trusted for an `https://` url, beside the system's.
    pub ca_file: Option<PathBuf>,
}

impl Default for DestinationConfig {
    fn default() -> Self {
        DestinationConfig {
            name: String::new(),
            url: String::new(),
            format: EventFormat::Event,
            secrets: Vec::new(),
            apps: Vec::new(),
            environments: Vec::new(),
            types: Vec::new(),
            timeout: Duration::from_secs(10),
            max_attempts: 12,
            ca_file: None,
        }
    }
}

/// `[delivery]`: how deliveries are worked and kept.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Delivered rows are deleted after this; dead rows stay until retried.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// Deliveries attempted at once by one replica.
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retention: Duration::from_secs(7 * 24 * 3600),
            concurrency: 16,
        }
    }
}

/// The key bytes of a `whsec_<base64>` secret.
pub fn signing_key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_")?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .filter(|key| !key.is_empty())
}

pub(super) fn check(
    destinations: &[DestinationConfig],
    delivery: &DeliveryConfig,
    problems: &mut Vec<ConfigError>,
) {
    let mut names = HashSet::new();
    for (i, d) in destinations.iter().enumerate() {
        let key = |field: &str| format!("destinations[{i}].{field}");
        if d.name.trim().is_empty() || d.name.contains(char::is_whitespace) {
            problems.push(ConfigError::invalid(
                key("name"),
                "must be a word such as \"backend\" (no spaces)",
            ));
        } else if !names.insert(d.name.as_str()) {
            problems.push(ConfigError::invalid(
                key("name"),
                format!("{:?} names another destination too", d.name),
            ));
        }
        match reqwest::Url::parse(&d.url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => problems.push(ConfigError::invalid(
                key("url"),
                format!(
                    "{:?} is not an http:// or https:// URL such as \"https://backend.internal/apple-events\"",
                    d.url
                ),
            )),
        }
        if d.secrets.is_empty() {
            problems.push(ConfigError::invalid(
                key("secrets"),
                "needs a signing secret, every request is signed: make one with \
                 echo whsec_$(head -c 32 /dev/urandom | base64)",
            ));
        }
        for (n, secret) in d.secrets.iter().enumerate() {
            if signing_key(secret.expose()).is_none() {
                problems.push(ConfigError::invalid(
                    format!("destinations[{i}].secrets[{n}]"),
                    "must be whsec_ followed by base64 (value not shown)",
                ));
            }
        }
        for t in &d.types {
            if t.is_empty() || t.contains(char::is_whitespace) || t.split('/').count() > 2 {
                problems.push(ConfigError::invalid(
                    key("types"),
                    format!("{t:?} is not TYPE or TYPE/SUBTYPE, e.g. \"DID_RENEW\" or \"DID_RENEW/BILLING_RECOVERY\""),
                ));
            }
        }
        if d.max_attempts == 0 {
            problems.push(ConfigError::invalid(
                key("max_attempts"),
                "must be at least 1",
            ));
        }
        if d.timeout.is_zero() || d.timeout > Duration::from_secs(300) {
            problems.push(ConfigError::invalid(
                key("timeout"),
                "must be between 1ms and 5m, e.g. \"10s\"",
            ));
        }
        if let Some(path) = &d.ca_file
            && let Err(e) =
                crate::appstore_api::credentials::read_certificates(&key("ca_file"), path)
        {
            problems.push(e);
        }
    }
    if delivery.concurrency == 0 || delivery.concurrency > 1024 {
        problems.push(ConfigError::invalid(
            "delivery.concurrency",
            "must be between 1 and 1024",
        ));
    }
}
