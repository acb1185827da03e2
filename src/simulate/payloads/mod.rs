//! Notifications as Apple would send them, for `asnd simulate`: every V2 `notificationType` and
//! `subtype` Apple documents, each in its own container (`data`, `summary`,
//! `externalPurchaseToken`, `appData`), and ordered stories (scenarios).
//!
//! Each notification comes out of a [`Story`]: one customer's purchase, moved through Apple's life
//! cycle step by step (subscribe, renew, fail to renew, expire, refund, ...). The transaction and
//! the renewal info of a notification are both read from the story's state at that step, so they
//! agree on ids, product, dates, environment, storefront, price (milliunits) and offers, and
//! `data.status` is the state's status (1 active, 2 expired, 3 billing retry, 4 grace period,
//! 5 revoked). A single `--type` gets the history that type implies (a `DID_RENEW` follows a
//! purchase one period earlier), played silently before it.
//!
//! Layout: `catalogue` says which types, subtypes, scenarios and V1 types exist; `products`
//! and `ids` are what stories sell and how they are numbered; `story` is one customer's state
//! and its steps; `scripts` says which steps each type or scenario plays; `render` turns a story
//! into the JSON Apple sends and signs it; `generator` plays scripts into [`Event`]s.
//!
//! Pure: JSON and signing with a [`DevChain`](crate::apple::devchain::DevChain); no I/O.

mod catalogue;
mod generator;
mod ids;
mod products;
mod render;
mod scripts;
mod story;

pub use catalogue::{CATALOG, Kind, Notice, Scenario, V1_TYPES, parse_v1_type};
pub use generator::Generator;
pub use ids::Ids;
pub(in crate::simulate) use products::Offer;
pub use render::Event;
pub(in crate::simulate) use story::{Story, Txn};

pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const DAY: i64 = 86_400_000;
/// A one-month subscription period.
pub const PERIOD: i64 = 30 * DAY;
/// How long a billing grace period lasts (Apple offers 3, 16 or 28 days).
pub const GRACE: i64 = 16 * DAY;
/// How long Apple retries billing before giving up.
pub const BILLING_RETRY: i64 = 60 * DAY;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("unknown notification type {given:?}; known types: {known}")]
    UnknownType { given: String, known: String },
    #[error("{notification_type} has no subtype {given:?}; use {allowed}")]
    UnknownSubtype {
        notification_type: String,
        given: String,
        allowed: String,
    },
    #[error("{notification_type} needs --subtype: {allowed}")]
    SubtypeRequired {
        notification_type: String,
        allowed: String,
    },
    #[error("unknown scenario {given:?}; known scenarios: {known}")]
    UnknownScenario { given: String, known: String },
    #[error("unknown environment {0:?}; use Sandbox or Production")]
    Environment(String),
    #[error("signing a V2 notification needs a signing chain")]
    NoChain,
    #[error("a V1 notification needs the app's shared secret")]
    NoSecret,
}

/// The app and environment notifications are for; must match the receiver's `[[apps]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `Sandbox` or `Production`.
    pub environment: String,
    pub bundle_id: String,
    pub app_apple_id: i64,
    /// `data.bundleVersion`, the app's build number.
    pub bundle_version: String,
}

impl Default for Target {
    /// What `asnd serve --dev` accepts.
    fn default() -> Self {
        Target {
            environment: "Sandbox".into(),
            bundle_id: "com.example.app".into(),
            app_apple_id: 1_234_567_890,
            bundle_version: "42".into(),
        }
    }
}

impl Target {
    pub fn check(&self) -> Result<(), PayloadError> {
        match self.environment.as_str() {
            "Sandbox" | "Production" => Ok(()),
            other => Err(PayloadError::Environment(other.into())),
        }
    }

    fn is_production(&self) -> bool {
        self.environment == "Production"
    }
}
