//! Notifications as Apple would send them, for `asnd simulate`: every V2 type and subtype of the
//! spec (§6.1, §6.2) in its own container (`data`, `summary`, `externalPurchaseToken`,
//! `appData`), and ordered stories (scenarios).
//!
//! Each notification comes out of a [`Story`]: one customer's purchase, moved through Apple's life
//! cycle step by step (subscribe, renew, fail to renew, expire, refund, ...). The transaction and
//! the renewal info of a notification are both read from the story's state at that step, so they
//! agree on ids, product, dates, environment, storefront, price (milliunits) and offers, and
//! `data.status` is the state's status (1 active, 2 expired, 3 billing retry, 4 grace period,
//! 5 revoked). A single `--type` gets the history that type implies (a `DID_RENEW` follows a
//! purchase one period earlier), played silently before it.
//!
//! Pure: JSON and signing with a [`DevChain`]; no I/O.

use serde_json::{Map, Value, json};

use super::v1;
use crate::apple::devchain::DevChain;

pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const DAY: i64 = 86_400_000;
/// A one-month subscription period.
pub const PERIOD: i64 = 30 * DAY;
/// How long a billing grace period lasts (Apple offers 3, 16 or 28 days).
pub const GRACE: i64 = 16 * DAY;
/// How long Apple retries billing before giving up.
pub const BILLING_RETRY: i64 = 60 * DAY;

/// Every V2 notification type and its subtypes (`None`: the type without a subtype).
pub const CATALOG: &[(&str, &[Option<&str>])] = &[
    ("CONSUMPTION_REQUEST", &[None]),
    (
        "DID_CHANGE_RENEWAL_PREF",
        &[Some("UPGRADE"), Some("DOWNGRADE"), None],
    ),
    (
        "DID_CHANGE_RENEWAL_STATUS",
        &[Some("AUTO_RENEW_ENABLED"), Some("AUTO_RENEW_DISABLED")],
    ),
    ("DID_FAIL_TO_RENEW", &[Some("GRACE_PERIOD"), None]),
    ("DID_RENEW", &[Some("BILLING_RECOVERY"), None]),
    (
        "EXPIRED",
        &[
            Some("VOLUNTARY"),
            Some("BILLING_RETRY"),
            Some("PRICE_INCREASE"),
            Some("PRODUCT_NOT_FOR_SALE"),
            None,
        ],
    ),
    (
        "EXTERNAL_PURCHASE_TOKEN",
        &[
            Some("UNREPORTED"),
            Some("ACTIVE_TOKEN_REMINDER"),
            Some("CREATED"),
        ],
    ),
    ("GRACE_PERIOD_EXPIRED", &[None]),
    ("METADATA_UPDATE", &[None]),
    ("MIGRATION", &[None]),
    (
        "OFFER_REDEEMED",
        &[Some("UPGRADE"), Some("DOWNGRADE"), None],
    ),
    ("ONE_TIME_CHARGE", &[None]),
    ("PRICE_CHANGE", &[None]),
    ("PRICE_INCREASE", &[Some("PENDING"), Some("ACCEPTED")]),
    ("REFUND", &[None]),
    ("REFUND_DECLINED", &[None]),
    ("REFUND_REVERSED", &[None]),
    ("RENEWAL_EXTENDED", &[None]),
    ("RENEWAL_EXTENSION", &[Some("SUMMARY"), Some("FAILURE")]),
    ("RESCIND_CONSENT", &[None]),
    ("REVOKE", &[None]),
    ("SUBSCRIBED", &[Some("INITIAL_BUY"), Some("RESUBSCRIBE")]),
    ("TEST", &[None]),
];

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

/// A V2 notification type with its subtype, as in [`CATALOG`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    pub notification_type: &'static str,
    pub subtype: Option<&'static str>,
}

impl Kind {
    /// Reads `--type` and `--subtype` (case-insensitive). Without a subtype, a type whose every
    /// form has one is an error naming them.
    pub fn parse(notification_type: &str, subtype: Option<&str>) -> Result<Kind, PayloadError> {
        let wanted = notification_type.trim().to_ascii_uppercase();
        let Some(&(name, subtypes)) = CATALOG.iter().find(|(t, _)| *t == wanted) else {
            return Err(PayloadError::UnknownType {
                given: notification_type.into(),
                known: CATALOG
                    .iter()
                    .map(|(t, _)| *t)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let allowed = || {
            subtypes
                .iter()
                .map(|s| s.unwrap_or("no subtype"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let subtype = match subtype.map(|s| s.trim().to_ascii_uppercase()) {
            None if subtypes.contains(&None) => None,
            None => {
                return Err(PayloadError::SubtypeRequired {
                    notification_type: name.into(),
                    allowed: allowed(),
                });
            }
            Some(s) => match subtypes.iter().flatten().find(|known| **known == s) {
                Some(known) => Some(*known),
                None => {
                    return Err(PayloadError::UnknownSubtype {
                        notification_type: name.into(),
                        given: s,
                        allowed: allowed(),
                    });
                }
            },
        };
        Ok(Kind {
            notification_type: name,
            subtype,
        })
    }

    /// Every type and subtype, in [`CATALOG`] order.
    pub fn all() -> Vec<Kind> {
        CATALOG
            .iter()
            .flat_map(|(t, subs)| {
                subs.iter().map(|s| Kind {
                    notification_type: t,
                    subtype: *s,
                })
            })
            .collect()
    }

    const fn of(notification_type: &'static str, subtype: Option<&'static str>) -> Kind {
        Kind {
            notification_type,
            subtype,
        }
    }

    /// `TYPE` or `TYPE/SUBTYPE`.
    pub fn label(&self) -> String {
        match self.subtype {
            Some(s) => format!("{}/{s}", self.notification_type),
            None => self.notification_type.to_string(),
        }
    }
}

/// What one simulated notification announces: a V2 type or a V1 `notification_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    V2(Kind),
    V1(&'static str),
}

impl Notice {
    pub fn label(&self) -> String {
        match self {
            Notice::V2(k) => k.label(),
            Notice::V1(t) => format!("V1 {t}"),
        }
    }

    /// The type alone (`notification_type` as stored).
    pub fn notification_type(&self) -> &'static str {
        match self {
            Notice::V2(k) => k.notification_type,
            Notice::V1(t) => t,
        }
    }
}

/// Ordered stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// SUBSCRIBED/INITIAL_BUY, DID_RENEW ×3, DID_CHANGE_RENEWAL_STATUS/AUTO_RENEW_DISABLED,
    /// EXPIRED/VOLUNTARY: ends expired (2), auto-renew off.
    Lifecycle,
    /// DID_FAIL_TO_RENEW/GRACE_PERIOD, GRACE_PERIOD_EXPIRED, DID_RENEW/BILLING_RECOVERY: ends active.
    Billing,
    /// ONE_TIME_CHARGE, REFUND, REFUND_REVERSED of a non-consumable.
    Refund,
    /// SUBSCRIBED/INITIAL_BUY of a family-shared subscription, then REVOKE: ends revoked (5).
    Family,
    /// One notification of every type and subtype, each for its own customer.
    AllTypes,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::Lifecycle,
        Scenario::Billing,
        Scenario::Refund,
        Scenario::Family,
        Scenario::AllTypes,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Lifecycle => "lifecycle",
            Scenario::Billing => "billing",
            Scenario::Refund => "refund",
            Scenario::Family => "family",
            Scenario::AllTypes => "all-types",
        }
    }

    pub fn parse(name: &str) -> Result<Scenario, PayloadError> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| PayloadError::UnknownScenario {
                given: name.into(),
                known: Scenario::ALL.map(|s| s.name()).join(", "),
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Products, storefronts, offers
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub(super) struct Product {
    pub id: &'static str,
    /// Apple's `type`.
    pub product_type: &'static str,
    /// Price in US milliunits; other storefronts convert it.
    usd: i64,
    /// V1's `auto_renew_adam_id`: the product's Apple ID.
    pub adam_id: &'static str,
}

const PRO: Product = Product {
    id: "pro.monthly",
    product_type: "Auto-Renewable Subscription",
    usd: 9_990,
    adam_id: "6450000001",
};
const PREMIUM: Product = Product {
    id: "premium.monthly",
    product_type: "Auto-Renewable Subscription",
    usd: 14_990,
    adam_id: "6450000002",
};
const BASIC: Product = Product {
    id: "basic.monthly",
    product_type: "Auto-Renewable Subscription",
    usd: 4_990,
    adam_id: "6450000003",
};
const ADVANCED: Product = Product {
    id: "advanced.commerce.monthly",
    product_type: "Auto-Renewable Subscription",
    usd: 12_990,
    adam_id: "6450000004",
};
const LIFETIME: Product = Product {
    id: "lifetime.unlock",
    product_type: "Non-Consumable",
    usd: 29_990,
    adam_id: "6450000005",
};
const COINS: Product = Product {
    id: "coins.100",
    product_type: "Consumable",
    usd: 990,
    adam_id: "6450000006",
};
const SUBSCRIPTION_GROUP: &str = "21000001";

#[derive(Debug)]
pub(super) struct Storefront {
    pub code: &'static str,
    pub id: &'static str,
    pub currency: &'static str,
    /// Local units per 1000 US units.
    rate: i64,
    /// No minor units (yen): prices are whole hundreds.
    whole: bool,
}

const STOREFRONTS: [Storefront; 7] = [
    Storefront {
        code: "USA",
        id: "143441",
        currency: "USD",
        rate: 1_000,
        whole: false,
    },
    Storefront {
        code: "GBR",
        id: "143444",
        currency: "GBP",
        rate: 800,
        whole: false,
    },
    Storefront {
        code: "DEU",
        id: "143443",
        currency: "EUR",
        rate: 920,
        whole: false,
    },
    Storefront {
        code: "FRA",
        id: "143442",
        currency: "EUR",
        rate: 920,
        whole: false,
    },
    Storefront {
        code: "JPN",
        id: "143462",
        currency: "JPY",
        rate: 150_000,
        whole: true,
    },
    Storefront {
        code: "CAN",
        id: "143455",
        currency: "CAD",
        rate: 1_370,
        whole: false,
    },
    Storefront {
        code: "AUS",
        id: "143460",
        currency: "AUD",
        rate: 1_530,
        whole: false,
    },
];

impl Storefront {
    /// A US price (milliunits) in this storefront's currency, rounded as price tiers are: to
    /// x.99, or to whole hundreds of yen. Milliunits.
    fn price(&self, usd: i64) -> i64 {
        let local = usd * self.rate / 1_000;
        if self.whole {
            ((local + 50_000) / 100_000).max(1) * 100_000
        } else {
            ((local + 999) / 1_000).max(1) * 1_000 - 10
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Offer {
    /// 1 introductory, 2 promotional, 3 offer code, 4 win-back.
    pub offer_type: i64,
    pub identifier: &'static str,
    pub discount_type: &'static str,
    /// ISO 8601 duration.
    pub period: &'static str,
    /// The discounted price, milliunits.
    pub price: i64,
}

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

/// Identifiers for simulated data: transaction ids shaped like Apple's (16 digits, `2…` in
/// Sandbox, `1…` in Production), UUIDs. Seeded once from the system's randomness; unique within
/// a generator and, with overwhelming likelihood, across runs.
#[derive(Debug, Clone)]
pub struct Ids {
    state: u64,
    base: u64,
    counter: u64,
}

const ID_SPACE: u64 = 1_000_000_000_000_000;

impl Ids {
    pub fn new() -> Self {
        Ids::seeded(uuid::Uuid::new_v4().as_u128() as u64)
    }

    pub fn seeded(seed: u64) -> Self {
        let mut ids = Ids {
            state: seed,
            base: 0,
            counter: 0,
        };
        ids.base = ids.next() % (ID_SPACE - 1_000_000_000);
        ids
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn transaction_id(&mut self, target: &Target) -> String {
        self.counter += 1;
        let prefix = if target.is_production() { 1 } else { 2 };
        format!("{prefix}{:015}", (self.base + self.counter) % ID_SPACE)
    }

    pub fn uuid(&mut self) -> String {
        let bytes = ((u128::from(self.next()) << 64) | u128::from(self.next())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

impl Default for Ids {
    fn default() -> Self {
        Ids::new()
    }
}

// ---------------------------------------------------------------------------------------------
// Stories
// ---------------------------------------------------------------------------------------------

/// What a story sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// An auto-renewable subscription (pro.monthly, with basic and premium in its group).
    Subscription,
    /// An Advanced Commerce API subscription.
    Advanced,
    NonConsumable,
    Consumable,
    /// No purchase: TEST, the mass-extension summary, external purchase tokens, consent.
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Voluntary,
    BillingRetry,
    PriceIncrease,
    ProductNotForSale,
    Other,
}

/// One change in a story's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// First purchase of the line's product (family-shared when `family`).
    Buy {
        family: bool,
    },
    Resubscribe,
    Renew,
    Recover,
    AutoRenew(bool),
    Upgrade,
    Downgrade,
    Revert,
    OfferSame,
    OfferUpgrade,
    OfferDowngrade,
    FailToRenew {
        grace: bool,
    },
    GraceExpired,
    Expire(Expiry),
    PriceIncrease {
        accepted: bool,
    },
    Refund,
    RefundDeclined,
    RefundReversed,
    ConsumptionRequest,
    Extend,
    ExtensionFailed,
    Revoke,
    MetadataUpdate,
    Migrate,
    PriceChange,
    /// Nothing changes (TEST, summaries, tokens, consent).
    Announce,
}

#[derive(Debug, Clone)]
pub(super) struct Txn {
    pub id: String,
    pub web_order_line_item_id: Option<String>,
    pub product: &'static Product,
    pub purchase: i64,
    pub expires: Option<i64>,
    pub reason: &'static str,
    pub offer: Option<Offer>,
    pub price: i64,
    /// Date, reason, type.
    pub revocation: Option<(i64, i64, &'static str)>,
    pub upgraded: bool,
}

#[derive(Debug, Clone)]
struct Advanced {
    display_name: &'static str,
    description: &'static str,
    request_reference_id: String,
    consistency_token: String,
    /// A scheduled new price (PRICE_CHANGE).
    new_price: Option<i64>,
}

/// One customer's purchase and everything that happened to it so far.
#[derive(Debug, Clone)]
pub(super) struct Story {
    pub target: Target,
    line: Line,
    pub storefront: &'static Storefront,
    pub original_transaction_id: String,
    previous_original_transaction_id: Option<String>,
    pub original_purchase: i64,
    /// Oldest first; the last is the current transaction.
    pub txns: Vec<Txn>,
    pub ownership: &'static str,
    pub account_token: String,
    app_transaction_id: String,
    pub auto_renew: bool,
    pub auto_renew_product: &'static Product,
    pub auto_renew_changed: i64,
    pub status: Option<i64>,
    pub billing_retry: bool,
    pub grace_end: Option<i64>,
    pub expiration_intent: Option<i64>,
    pub price_increase_status: Option<i64>,
    /// The renewal price after an accepted or pending increase.
    increased_price: Option<i64>,
    pub renewal_offer: Option<Offer>,
    win_back: bool,
    recent_start: i64,
    advanced: Option<Advanced>,
    consumption_reason: Option<&'static str>,
    clock: i64,
}

impl Story {
    fn new(target: &Target, line: Line, start: i64, ids: &mut Ids) -> Story {
        let storefront = &STOREFRONTS[ids.below(STOREFRONTS.len() as u64) as usize];
        Story {
            target: target.clone(),
            line,
            storefront,
            original_transaction_id: String::new(),
            previous_original_transaction_id: None,
            original_purchase: start,
            txns: Vec::new(),
            ownership: "PURCHASED",
            account_token: ids.uuid(),
            app_transaction_id: format!("70{:014}", ids.below(100_000_000_000_000)),
            auto_renew: false,
            auto_renew_product: &PRO,
            auto_renew_changed: start,
            status: None,
            billing_retry: false,
            grace_end: None,
            expiration_intent: None,
            price_increase_status: None,
            increased_price: None,
            renewal_offer: None,
            win_back: false,
            recent_start: start,
            advanced: None,
            consumption_reason: None,
            clock: start,
        }
    }

    pub fn current(&self) -> Option<&Txn> {
        self.txns.last()
    }

    pub fn is_subscription(&self) -> bool {
        matches!(self.line, Line::Subscription | Line::Advanced)
    }

    fn expires(&self) -> Option<i64> {
        self.current().and_then(|t| t.expires)
    }

    fn price(&self, product: &Product) -> i64 {
        self.storefront.price(product.usd)
    }

    /// The price the next renewal charges.
    pub fn renewal_price(&self) -> i64 {
        if let Some(offer) = &self.renewal_offer {
            return offer.price;
        }
        self.increased_price
            .unwrap_or_else(|| self.price(self.auto_renew_product))
    }

    /// When a step happens: at the state's natural moment (a renewal at expiry, the end of grace
    /// ...), always after the previous step.
    fn time_for(&self, step: Step) -> i64 {
        if self.txns.is_empty() {
            return self.clock;
        }
        let clock = self.clock;
        let expires = self.expires().unwrap_or(clock + PERIOD);
        let soon = if expires - clock > 2 * MINUTE {
            clock + ((expires - clock) / 3).min(10 * DAY)
        } else {
            clock + MINUTE
        };
        let at = match step {
            Step::Renew | Step::FailToRenew { .. } => expires,
            Step::GraceExpired => self.grace_end.unwrap_or(expires + GRACE),
            Step::Expire(Expiry::BillingRetry) => expires + BILLING_RETRY,
            Step::Expire(_) => expires,
            Step::Recover => clock + 3 * DAY,
            Step::Resubscribe => clock + 20 * DAY,
            Step::Refund | Step::RefundDeclined if !self.is_subscription() => clock + 5 * DAY,
            Step::RefundReversed => clock + 14 * DAY,
            Step::ConsumptionRequest => clock + 2 * DAY,
            Step::Announce => clock,
            _ => soon,
        };
        at.max(clock + SECOND)
    }

    fn new_txn(&mut self, ids: &mut Ids, product: &'static Product, at: i64, reason: &'static str) {
        let subscription = product.product_type == "Auto-Renewable Subscription";
        let txn = Txn {
            id: ids.transaction_id(&self.target),
            web_order_line_item_id: subscription.then(|| ids.transaction_id(&self.target)),
            product,
            purchase: at,
            expires: subscription.then_some(at + PERIOD),
            reason,
            offer: None,
            price: self.price(product),
            revocation: None,
            upgraded: false,
        };
        self.txns.push(txn);
    }

    fn current_mut(&mut self) -> Option<&mut Txn> {
        self.txns.last_mut()
    }

    /// Applies `step` and returns when it happened.
    fn apply(&mut self, step: Step, ids: &mut Ids) -> i64 {
        let at = self.time_for(step);
        self.clock = at;
        match step {
            Step::Buy { family } => self.buy(ids, at, family),
            Step::Resubscribe => {
                if at - self.expires().unwrap_or(at) > BILLING_RETRY {
                    self.recent_start = at;
                }
                let product = self.auto_renew_product;
                self.new_txn(ids, product, at, "PURCHASE");
                self.active();
                self.auto_renew = true;
                self.auto_renew_changed = at;
            }
            Step::Renew => {
                let product = self.auto_renew_product;
                let price = self.renewal_price();
                let offer = self.renewal_offer.take();
                let start = self.expires().unwrap_or(at);
                self.new_txn(ids, product, start, "RENEWAL");
                if let Some(t) = self.current_mut() {
                    t.price = price;
                    t.offer = offer;
                }
                self.price_increase_status = None;
                self.active();
            }
            Step::Recover => {
                let product = self.auto_renew_product;
                let price = self.renewal_price();
                self.new_txn(ids, product, at, "RENEWAL");
                if let Some(t) = self.current_mut() {
                    t.price = price;
                }
                self.active();
            }
            Step::AutoRenew(on) => {
                self.auto_renew = on;
                self.auto_renew_changed = at;
            }
            Step::Upgrade | Step::OfferUpgrade => {
                if let Some(t) = self.current_mut() {
                    t.upgraded = true;
                }
                self.new_txn(ids, &PREMIUM, at, "PURCHASE");
                if step == Step::OfferUpgrade {
                    let price = self.price(&PREMIUM) / 2 / 10 * 10;
                    if let Some(t) = self.current_mut() {
                        t.offer = Some(Offer {
                            offer_type: 2,
                            identifier: "premium.upgrade.halfprice",
                            discount_type: "PAY_AS_YOU_GO",
                            period: "P3M",
                            price,
                        });
                        t.price = price;
                    }
                }
                self.auto_renew_product = &PREMIUM;
            }
            Step::Downgrade => self.auto_renew_product = &BASIC,
            Step::OfferDowngrade => {
                self.auto_renew_product = &BASIC;
                self.renewal_offer = Some(Offer {
                    offer_type: 3,
                    identifier: "BASICWINTER",
                    discount_type: "PAY_AS_YOU_GO",
                    period: "P3M",
                    price: self.price(&BASIC) / 2 / 10 * 10,
                });
            }
            Step::Revert => {
                if let Some(product) = self.current().map(|t| t.product) {
                    self.auto_renew_product = product;
                }
                self.renewal_offer = None;
            }
            Step::OfferSame => {
                let product = self.auto_renew_product;
                self.renewal_offer = Some(Offer {
                    offer_type: 2,
                    identifier: "pro.loyalty.halfprice",
                    discount_type: "PAY_AS_YOU_GO",
                    period: "P3M",
                    price: self.price(product) / 2 / 10 * 10,
                });
            }
            Step::FailToRenew { grace } => {
                self.billing_retry = true;
                self.grace_end = grace.then(|| self.expires().unwrap_or(at) + GRACE);
                self.status = Some(if grace { 4 } else { 3 });
                self.expiration_intent = (!grace).then_some(2);
            }
            Step::GraceExpired => {
                self.status = Some(3);
                self.expiration_intent = Some(2);
            }
            Step::Expire(why) => {
                self.status = Some(2);
                self.billing_retry = false;
                self.expiration_intent = Some(match why {
                    Expiry::Voluntary => 1,
                    Expiry::BillingRetry => 2,
                    Expiry::PriceIncrease => 3,
                    Expiry::ProductNotForSale => 4,
                    Expiry::Other => 5,
                });
                if matches!(why, Expiry::Voluntary | Expiry::PriceIncrease) && self.auto_renew {
                    self.auto_renew = false;
                    self.auto_renew_changed = at;
                }
                if why == Expiry::PriceIncrease {
                    self.price_increase_status = Some(0);
                }
                self.win_back = why == Expiry::Voluntary;
            }
            Step::PriceIncrease { accepted } => {
                let product = self.auto_renew_product;
                self.increased_price = Some(self.storefront.price(product.usd * 6 / 5));
                self.price_increase_status = Some(i64::from(accepted));
            }
            Step::Refund => {
                if let Some(t) = self.current_mut() {
                    t.revocation = Some((at, 1, "REFUND_FULL"));
                }
                if self.is_subscription() {
                    self.status = Some(5);
                }
            }
            Step::RefundDeclined | Step::ExtensionFailed | Step::Announce => {}
            Step::RefundReversed => {
                if let Some(t) = self.current_mut() {
                    t.revocation = None;
                }
                if self.is_subscription() {
                    self.status = Some(1);
                }
            }
            Step::ConsumptionRequest => self.consumption_reason = Some("UNINTENDED_PURCHASE"),
            Step::Extend => {
                if let Some(t) = self.current_mut() {
                    t.expires = t.expires.map(|e| e + 7 * DAY);
                }
            }
            Step::Revoke => {
                if let Some(t) = self.current_mut() {
                    t.revocation = Some((at, 0, "FAMILY_REVOKE"));
                }
                self.status = Some(5);
            }
            Step::MetadataUpdate => {
                let reference = ids.uuid();
                if let Some(a) = &mut self.advanced {
                    a.display_name = "Daily News Plus";
                    a.description = "Daily news with the weekend edition";
                    a.request_reference_id = reference;
                }
            }
            Step::Migrate => {
                let expires = self.expires();
                self.previous_original_transaction_id = Some(self.original_transaction_id.clone());
                self.new_txn(ids, &ADVANCED, at, "PURCHASE");
                if let Some(t) = self.current_mut() {
                    t.expires = expires.or(t.expires);
                }
                self.original_transaction_id =
                    self.current().map(|t| t.id.clone()).unwrap_or_default();
                self.line = Line::Advanced;
                self.advanced = Some(self.new_advanced(ids));
                self.auto_renew_product = &ADVANCED;
                self.active();
            }
            Step::PriceChange => {
                let price = self.storefront.price(ADVANCED.usd + 2_000);
                if let Some(a) = &mut self.advanced {
                    a.new_price = Some(price);
                }
                self.increased_price = Some(price);
            }
        }
        at
    }

    fn buy(&mut self, ids: &mut Ids, at: i64, family: bool) {
        let product: &'static Product = match self.line {
            Line::Subscription => &PRO,
            Line::Advanced => &ADVANCED,
            Line::NonConsumable => &LIFETIME,
            Line::Consumable => &COINS,
            Line::Nothing => return,
        };
        self.new_txn(ids, product, at, "PURCHASE");
        self.original_transaction_id = self.current().map(|t| t.id.clone()).unwrap_or_default();
        self.original_purchase = at;
        self.recent_start = at;
        if family {
            self.ownership = "FAMILY_SHARED";
        }
        if self.is_subscription() {
            self.auto_renew = true;
            self.auto_renew_changed = at;
            self.auto_renew_product = product;
            self.status = Some(1);
        }
        if self.line == Line::Advanced {
            self.advanced = Some(self.new_advanced(ids));
        }
    }

    fn new_advanced(&self, ids: &mut Ids) -> Advanced {
        Advanced {
            display_name: "Daily News",
            description: "Daily news, every morning",
            request_reference_id: ids.uuid(),
            consistency_token: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                ids.bytes(24),
            ),
            new_price: None,
        }
    }

    fn active(&mut self) {
        self.status = Some(1);
        self.billing_retry = false;
        self.grace_end = None;
        self.expiration_intent = None;
        self.win_back = false;
    }

    // ---- the signed payloads, as JSON ----

    /// `JWSTransactionDecodedPayload` of the current transaction.
    fn transaction_json(&self, signed_date: i64) -> Option<Value> {
        let t = self.current()?;
        let t_env = &self.target.environment;
        let mut j = json!({
            "transactionId": t.id,
            "originalTransactionId": self.original_transaction_id,
            "bundleId": self.target.bundle_id,
            "productId": t.product.id,
            "purchaseDate": t.purchase,
            "originalPurchaseDate": self.original_purchase,
            "quantity": 1,
            "type": t.product.product_type,
            "appAccountToken": self.account_token,
            "inAppOwnershipType": self.ownership,
            "signedDate": signed_date,
            "environment": t_env,
            "transactionReason": t.reason,
            "storefront": self.storefront.code,
            "storefrontId": self.storefront.id,
            "price": t.price,
            "currency": self.storefront.currency,
            "appTransactionId": self.app_transaction_id,
        });
        let o = obj(&mut j);
        if let Some(w) = &t.web_order_line_item_id {
            o.insert("webOrderLineItemId".into(), json!(w));
            o.insert(
                "subscriptionGroupIdentifier".into(),
                json!(SUBSCRIPTION_GROUP),
            );
        }
        if let Some(e) = t.expires {
            o.insert("expiresDate".into(), json!(e));
        }
        if let Some(offer) = &t.offer {
            offer_fields(o, offer);
        }
        if let Some((date, reason, kind)) = t.revocation {
            o.insert("revocationDate".into(), json!(date));
            o.insert("revocationReason".into(), json!(reason));
            o.insert("revocationType".into(), json!(kind));
        }
        if t.upgraded {
            o.insert("isUpgraded".into(), json!(true));
        }
        if let Some(p) = &self.previous_original_transaction_id {
            o.insert("previousOriginalTransactionId".into(), json!(p));
        }
        if let Some(a) = &self.advanced {
            let tax_rate_permille = 80;
            let tax = t.price * tax_rate_permille / 1_000;
            o.insert(
                "advancedCommerceInfo".into(),
                json!({
                    "descriptors": {"description": a.description, "displayName": a.display_name},
                    "estimatedTax": tax,
                    "items": [{
                        "SKU": "NEWS_DAILY_MONTHLY",
                        "description": a.description,
                        "displayName": a.display_name,
                        "price": t.price,
                    }],
                    "period": "P1M",
                    "requestReferenceId": a.request_reference_id,
                    "taxCode": "C003-00-2",
                    "taxExclusivePrice": t.price,
                    "taxRate": "0.08",
                }),
            );
        }
        Some(j)
    }

    /// `JWSRenewalInfoDecodedPayload`; subscriptions only.
    fn renewal_json(&self, signed_date: i64) -> Option<Value> {
        if !self.is_subscription() {
            return None;
        }
        let t = self.current()?;
        let mut j = json!({
            "originalTransactionId": self.original_transaction_id,
            "autoRenewProductId": self.auto_renew_product.id,
            "productId": t.product.id,
            "autoRenewStatus": i64::from(self.auto_renew),
            "isInBillingRetryPeriod": self.billing_retry,
            "signedDate": signed_date,
            "environment": self.target.environment,
            "recentSubscriptionStartDate": self.recent_start,
            "renewalDate": t.expires,
            "renewalPrice": self.renewal_price(),
            "currency": self.storefront.currency,
            "appAccountToken": self.account_token,
            "appTransactionId": self.app_transaction_id,
        });
        let o = obj(&mut j);
        if let Some(i) = self.expiration_intent {
            o.insert("expirationIntent".into(), json!(i));
        }
        if let Some(g) = self.grace_end {
            o.insert("gracePeriodExpiresDate".into(), json!(g));
        }
        if let Some(p) = self.price_increase_status {
            o.insert("priceIncreaseStatus".into(), json!(p));
        }
        if let Some(offer) = &self.renewal_offer {
            offer_fields(o, offer);
        }
        if self.win_back {
            o.insert(
                "eligibleWinBackOfferIds".into(),
                json!(["pro.winback.onemonthfree"]),
            );
        }
        if let Some(a) = &self.advanced {
            let mut item = json!({
                "SKU": "NEWS_DAILY_MONTHLY",
                "description": a.description,
                "displayName": a.display_name,
                "price": self.price(&ADVANCED),
            });
            if let Some(p) = a.new_price {
                obj(&mut item).insert(
                    "priceIncreaseInfo".into(),
                    json!({"dependentSKUs": [], "price": p, "status": "SCHEDULED"}),
                );
            }
            o.insert(
                "advancedCommerceInfo".into(),
                json!({
                    "consistencyToken": a.consistency_token,
                    "descriptors": {"description": a.description, "displayName": a.display_name},
                    "items": [item],
                    "period": "P1M",
                    "requestReferenceId": a.request_reference_id,
                    "taxCode": "C003-00-2",
                }),
            );
        }
        Some(j)
    }
}

fn obj(v: &mut Value) -> &mut Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("built as an object"),
    }
}

fn offer_fields(o: &mut Map<String, Value>, offer: &Offer) {
    o.insert("offerType".into(), json!(offer.offer_type));
    o.insert("offerIdentifier".into(), json!(offer.identifier));
    o.insert("offerDiscountType".into(), json!(offer.discount_type));
    o.insert("offerPeriod".into(), json!(offer.period));
}

// ---------------------------------------------------------------------------------------------
// Scripts: which steps, which of them are announced
// ---------------------------------------------------------------------------------------------

struct Script {
    line: Line,
    /// Each step, and what is sent for it (`None`: it happens silently).
    steps: Vec<(Step, Option<Notice>)>,
}

/// The history a V2 notification type implies, then the step it announces.
fn plan(kind: Kind) -> (Line, Vec<Step>, Step) {
    use Step::*;
    let buy = Buy { family: false };
    let sub = Line::Subscription;
    match (kind.notification_type, kind.subtype) {
        ("SUBSCRIBED", Some("RESUBSCRIBE")) => (
            sub,
            vec![buy, AutoRenew(false), Expire(Expiry::Voluntary)],
            Resubscribe,
        ),
        ("SUBSCRIBED", _) => (sub, vec![], buy),
        ("DID_RENEW", Some("BILLING_RECOVERY")) => {
            (sub, vec![buy, FailToRenew { grace: false }], Recover)
        }
        ("DID_RENEW", _) => (sub, vec![buy], Renew),
        ("DID_CHANGE_RENEWAL_PREF", Some("UPGRADE")) => (sub, vec![buy], Upgrade),
        ("DID_CHANGE_RENEWAL_PREF", Some("DOWNGRADE")) => (sub, vec![buy], Downgrade),
        ("DID_CHANGE_RENEWAL_PREF", _) => (sub, vec![buy, Downgrade], Revert),
        ("DID_CHANGE_RENEWAL_STATUS", Some("AUTO_RENEW_ENABLED")) => {
            (sub, vec![buy, AutoRenew(false)], AutoRenew(true))
        }
        ("DID_CHANGE_RENEWAL_STATUS", _) => (sub, vec![buy], AutoRenew(false)),
        ("DID_FAIL_TO_RENEW", Some("GRACE_PERIOD")) => {
            (sub, vec![buy], FailToRenew { grace: true })
        }
        ("DID_FAIL_TO_RENEW", _) => (sub, vec![buy], FailToRenew { grace: false }),
        ("GRACE_PERIOD_EXPIRED", _) => (sub, vec![buy, FailToRenew { grace: true }], GraceExpired),
        ("EXPIRED", Some("VOLUNTARY")) => {
            (sub, vec![buy, AutoRenew(false)], Expire(Expiry::Voluntary))
        }
        ("EXPIRED", Some("BILLING_RETRY")) => (
            sub,
            vec![buy, FailToRenew { grace: false }],
            Expire(Expiry::BillingRetry),
        ),
        ("EXPIRED", Some("PRICE_INCREASE")) => (
            sub,
            vec![buy, PriceIncrease { accepted: false }],
            Expire(Expiry::PriceIncrease),
        ),
        ("EXPIRED", Some("PRODUCT_NOT_FOR_SALE")) => {
            (sub, vec![buy], Expire(Expiry::ProductNotForSale))
        }
        ("EXPIRED", _) => (sub, vec![buy], Expire(Expiry::Other)),
        ("OFFER_REDEEMED", Some("UPGRADE")) => (sub, vec![buy], OfferUpgrade),
        ("OFFER_REDEEMED", Some("DOWNGRADE")) => (sub, vec![buy], OfferDowngrade),
        ("OFFER_REDEEMED", _) => (sub, vec![buy], OfferSame),
        ("PRICE_INCREASE", Some("ACCEPTED")) => (sub, vec![buy], PriceIncrease { accepted: true }),
        ("PRICE_INCREASE", _) => (sub, vec![buy], PriceIncrease { accepted: false }),
        ("RENEWAL_EXTENDED", _) => (sub, vec![buy], Extend),
        ("RENEWAL_EXTENSION", Some("FAILURE")) => (sub, vec![buy], ExtensionFailed),
        ("REVOKE", _) => (sub, vec![Buy { family: true }], Revoke),
        ("REFUND", _) => (Line::NonConsumable, vec![buy], Refund),
        ("REFUND_DECLINED", _) => (Line::NonConsumable, vec![buy], RefundDeclined),
        ("REFUND_REVERSED", _) => (Line::NonConsumable, vec![buy, Refund], RefundReversed),
        ("ONE_TIME_CHARGE", _) => (Line::NonConsumable, vec![], buy),
        ("CONSUMPTION_REQUEST", _) => (Line::Consumable, vec![buy], ConsumptionRequest),
        ("METADATA_UPDATE", _) => (Line::Advanced, vec![buy], MetadataUpdate),
        ("PRICE_CHANGE", _) => (Line::Advanced, vec![buy], PriceChange),
        ("MIGRATION", _) => (sub, vec![buy], Migrate),
        // TEST, RENEWAL_EXTENSION/SUMMARY, EXTERNAL_PURCHASE_TOKEN, RESCIND_CONSENT.
        _ => (Line::Nothing, vec![], Announce),
    }
}

fn single_script(kind: Kind) -> Script {
    let (line, prelude, step) = plan(kind);
    let mut steps: Vec<(Step, Option<Notice>)> = prelude.into_iter().map(|s| (s, None)).collect();
    steps.push((step, Some(Notice::V2(kind))));
    Script { line, steps }
}

/// V1 `notification_type` values asnd can simulate (`RENEWAL` is dead since 2021).
pub const V1_TYPES: &[&str] = &[
    "CANCEL",
    "CONSUMPTION_REQUEST",
    "DID_CHANGE_RENEWAL_PREF",
    "DID_CHANGE_RENEWAL_STATUS",
    "DID_FAIL_TO_RENEW",
    "DID_RECOVER",
    "DID_RENEW",
    "INITIAL_BUY",
    "INTERACTIVE_RENEWAL",
    "PRICE_INCREASE_CONSENT",
    "REFUND",
    "REVOKE",
];

/// Reads a V1 `--type` (case-insensitive).
pub fn parse_v1_type(name: &str) -> Result<&'static str, PayloadError> {
    let wanted = name.trim().to_ascii_uppercase();
    V1_TYPES
        .iter()
        .find(|t| **t == wanted)
        .copied()
        .ok_or_else(|| PayloadError::UnknownType {
            given: name.into(),
            known: V1_TYPES.join(", "),
        })
}

/// The V2 story a V1 type tells (CANCEL: a refunded subscription).
fn v1_script(v1_type: &'static str) -> Script {
    let v2 = |t, s| Kind::of(t, s);
    let mut script = match v1_type {
        "CANCEL" => Script {
            line: Line::Subscription,
            steps: vec![(Step::Buy { family: false }, None), (Step::Refund, None)],
        },
        "INITIAL_BUY" => single_script(v2("SUBSCRIBED", Some("INITIAL_BUY"))),
        "INTERACTIVE_RENEWAL" => single_script(v2("SUBSCRIBED", Some("RESUBSCRIBE"))),
        "DID_RECOVER" => single_script(v2("DID_RENEW", Some("BILLING_RECOVERY"))),
        "DID_CHANGE_RENEWAL_PREF" => {
            single_script(v2("DID_CHANGE_RENEWAL_PREF", Some("DOWNGRADE")))
        }
        "DID_CHANGE_RENEWAL_STATUS" => {
            single_script(v2("DID_CHANGE_RENEWAL_STATUS", Some("AUTO_RENEW_DISABLED")))
        }
        "DID_FAIL_TO_RENEW" => single_script(v2("DID_FAIL_TO_RENEW", None)),
        "PRICE_INCREASE_CONSENT" => single_script(v2("PRICE_INCREASE", Some("PENDING"))),
        other => single_script(v2(other, None)),
    };
    if let Some(last) = script.steps.last_mut() {
        last.1 = Some(Notice::V1(v1_type));
    }
    script
}

/// The V1 type announcing what a V2 notification announces, when V1 has one.
fn v1_equivalent(kind: Kind) -> Option<&'static str> {
    Some(match (kind.notification_type, kind.subtype) {
        ("SUBSCRIBED", Some("INITIAL_BUY")) => "INITIAL_BUY",
        ("SUBSCRIBED", _) => "INTERACTIVE_RENEWAL",
        ("DID_RENEW", Some("BILLING_RECOVERY")) => "DID_RECOVER",
        ("DID_RENEW", _) => "DID_RENEW",
        ("DID_CHANGE_RENEWAL_STATUS", _) => "DID_CHANGE_RENEWAL_STATUS",
        ("DID_CHANGE_RENEWAL_PREF", _) => "DID_CHANGE_RENEWAL_PREF",
        ("DID_FAIL_TO_RENEW", _) => "DID_FAIL_TO_RENEW",
        ("PRICE_INCREASE", Some("PENDING")) => "PRICE_INCREASE_CONSENT",
        ("REFUND", _) => "REFUND",
        ("REVOKE", _) => "REVOKE",
        ("CONSUMPTION_REQUEST", _) => "CONSUMPTION_REQUEST",
        _ => return None,
    })
}

fn scenario_script(scenario: Scenario) -> Script {
    use Step::*;
    let k = |t, s| Some(Notice::V2(Kind::of(t, s)));
    match scenario {
        Scenario::Lifecycle => Script {
            line: Line::Subscription,
            steps: vec![
                (Buy { family: false }, k("SUBSCRIBED", Some("INITIAL_BUY"))),
                (Renew, k("DID_RENEW", None)),
                (Renew, k("DID_RENEW", None)),
                (Renew, k("DID_RENEW", None)),
                (
                    AutoRenew(false),
                    k("DID_CHANGE_RENEWAL_STATUS", Some("AUTO_RENEW_DISABLED")),
                ),
                (Expire(Expiry::Voluntary), k("EXPIRED", Some("VOLUNTARY"))),
            ],
        },
        Scenario::Billing => Script {
            line: Line::Subscription,
            steps: vec![
                (Buy { family: false }, None),
                (
                    FailToRenew { grace: true },
                    k("DID_FAIL_TO_RENEW", Some("GRACE_PERIOD")),
                ),
                (GraceExpired, k("GRACE_PERIOD_EXPIRED", None)),
                (Recover, k("DID_RENEW", Some("BILLING_RECOVERY"))),
            ],
        },
        Scenario::Refund => Script {
            line: Line::NonConsumable,
            steps: vec![
                (Buy { family: false }, k("ONE_TIME_CHARGE", None)),
                (Refund, k("REFUND", None)),
                (RefundReversed, k("REFUND_REVERSED", None)),
            ],
        },
        Scenario::Family => Script {
            line: Line::Subscription,
            steps: vec![
                (Buy { family: true }, k("SUBSCRIBED", Some("INITIAL_BUY"))),
                (Revoke, k("REVOKE", None)),
            ],
        },
        Scenario::AllTypes => unreachable!("all-types is one story per type"),
    }
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// What a V2 notification carries.
#[derive(Debug, Clone)]
enum Container {
    Data {
        transaction: Option<Value>,
        renewal: Option<Value>,
        status: Option<i64>,
        consumption_request_reason: Option<&'static str>,
    },
    Summary(Value),
    ExternalPurchaseToken(Value),
    AppData {
        app_transaction: Value,
    },
}

#[derive(Debug, Clone)]
enum Content {
    V2(Container),
    /// The V1 body without its `password`.
    V1(Value),
}

/// One simulated notification, before signing.
#[derive(Debug, Clone)]
pub struct Event {
    pub notice: Notice,
    /// `notificationUUID` (V2); V1 bodies have none.
    pub uuid: String,
    /// The notification's `signedDate` (for V1: when it happened).
    pub signed_date: i64,
    /// `data.status`, for subscriptions.
    pub status: Option<i64>,
    pub original_transaction_id: Option<String>,
    pub transaction_id: Option<String>,
    content: Content,
}

impl Event {
    /// The decoded V2 payload, its nested payloads signed with `chain` (`None` for V1).
    pub fn payload(&self, chain: &DevChain, target: &Target) -> Option<Value> {
        let Content::V2(container) = &self.content else {
            return None;
        };
        let mut n = json!({
            "notificationType": self.notice.notification_type(),
            "notificationUUID": self.uuid,
        });
        let o = obj(&mut n);
        if let Notice::V2(Kind {
            subtype: Some(s), ..
        }) = self.notice
        {
            o.insert("subtype".into(), json!(s));
        }
        let (name, value) = match container {
            Container::Data {
                transaction,
                renewal,
                status,
                consumption_request_reason,
            } => {
                let mut d = json!({
                    "appAppleId": target.app_apple_id,
                    "bundleId": target.bundle_id,
                });
                let m = obj(&mut d);
                // TEST carries only the app and the environment.
                if self.notice.notification_type() != "TEST" {
                    m.insert("bundleVersion".into(), json!(target.bundle_version));
                }
                m.insert("environment".into(), json!(target.environment));
                if let Some(t) = transaction {
                    m.insert("signedTransactionInfo".into(), json!(chain.sign(t)));
                }
                if let Some(r) = renewal {
                    m.insert("signedRenewalInfo".into(), json!(chain.sign(r)));
                }
                if let Some(s) = status {
                    m.insert("status".into(), json!(s));
                }
                if let Some(r) = consumption_request_reason {
                    m.insert("consumptionRequestReason".into(), json!(r));
                }
                ("data", d)
            }
            Container::Summary(s) => ("summary", s.clone()),
            Container::ExternalPurchaseToken(t) => ("externalPurchaseToken", t.clone()),
            Container::AppData { app_transaction } => (
                "appData",
                json!({
                    "appAppleId": target.app_apple_id,
                    "bundleId": target.bundle_id,
                    "environment": target.environment,
                    "signedAppTransactionInfo": chain.sign(app_transaction),
                }),
            ),
        };
        o.insert(name.into(), value);
        o.insert("version".into(), json!("2.0"));
        o.insert("signedDate".into(), json!(self.signed_date));
        Some(n)
    }

    /// The request body: `{"signedPayload": "..."}` signed with `chain` for V2, the V1 JSON with
    /// `password` for V1.
    pub fn body(
        &self,
        target: &Target,
        chain: Option<&DevChain>,
        v1_password: Option<&str>,
    ) -> Result<String, PayloadError> {
        match &self.content {
            Content::V2(_) => {
                let chain = chain.ok_or(PayloadError::NoChain)?;
                let payload = self.payload(chain, target).ok_or(PayloadError::NoChain)?;
                Ok(json!({"signedPayload": chain.sign(&payload)}).to_string())
            }
            Content::V1(body) => {
                let password = v1_password.ok_or(PayloadError::NoSecret)?;
                // `password` second, after `notification_type`, as Apple orders it.
                let mut ordered = Map::new();
                let fields = body.as_object().into_iter().flatten();
                for (key, value) in fields {
                    ordered.insert(key.clone(), value.clone());
                    if key == "notification_type" {
                        ordered.insert("password".into(), json!(password));
                    }
                }
                Ok(Value::Object(ordered).to_string())
            }
        }
    }

    pub fn is_v1(&self) -> bool {
        matches!(self.content, Content::V1(_))
    }
}

/// Builds notifications for one target.
#[derive(Debug, Clone)]
pub struct Generator {
    pub target: Target,
    pub ids: Ids,
}

impl Generator {
    pub fn new(target: Target) -> Generator {
        Generator {
            target,
            ids: Ids::new(),
        }
    }

    pub fn with_ids(target: Target, ids: Ids) -> Generator {
        Generator { target, ids }
    }

    /// One V2 notification of `kind`, signed at `at`, for a new customer whose history leads to it.
    pub fn single(&mut self, kind: Kind, at: i64) -> Event {
        let mut events = self.run(&single_script(kind), at);
        events.remove(0)
    }

    /// One V1 notification (see [`V1_TYPES`]).
    pub fn single_v1(&mut self, v1_type: &'static str, at: i64) -> Event {
        let mut events = self.run(&v1_script(v1_type), at);
        events.remove(0)
    }

    /// A scenario whose last notification is signed at `end`; dates increase along it.
    pub fn scenario(&mut self, scenario: Scenario, end: i64) -> Vec<Event> {
        self.scenario_in(scenario, end, false)
    }

    /// The scenario as V1 would tell it: the steps V1 has a type for (all V1 types for
    /// `all-types`).
    pub fn scenario_v1(&mut self, scenario: Scenario, end: i64) -> Vec<Event> {
        self.scenario_in(scenario, end, true)
    }

    fn scenario_in(&mut self, scenario: Scenario, end: i64, v1: bool) -> Vec<Event> {
        if scenario == Scenario::AllTypes {
            let n = if v1 {
                V1_TYPES.len()
            } else {
                Kind::all().len()
            } as i64;
            let at = |i: usize| end - (n - 1 - i as i64) * SECOND;
            return if v1 {
                V1_TYPES
                    .iter()
                    .enumerate()
                    .map(|(i, t)| self.single_v1(t, at(i)))
                    .collect()
            } else {
                Kind::all()
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| self.single(k, at(i)))
                    .collect()
            };
        }
        let mut script = scenario_script(scenario);
        if v1 {
            for (_, notice) in &mut script.steps {
                *notice = match *notice {
                    Some(Notice::V2(k)) => v1_equivalent(k).map(Notice::V1),
                    other => other,
                };
            }
        }
        self.run(&script, end)
    }

    /// Plays the script so that its last step happens at `end`; returns the announced events.
    fn run(&mut self, script: &Script, end: i64) -> Vec<Event> {
        // Step times depend only on the steps, so a dry run from 0 gives the span.
        let mut dry = Story::new(&self.target, script.line, 0, &mut Ids::seeded(0));
        let mut scratch = Ids::seeded(0);
        let span = script
            .steps
            .iter()
            .map(|(s, _)| dry.apply(*s, &mut scratch))
            .last()
            .unwrap_or(0);
        let mut story = Story::new(&self.target, script.line, end - span, &mut self.ids);
        let mut events = Vec::new();
        for (step, notice) in &script.steps {
            let at = story.apply(*step, &mut self.ids);
            if let Some(notice) = notice {
                events.push(self.announce(&story, *notice, at));
            }
        }
        events
    }

    fn announce(&mut self, story: &Story, notice: Notice, at: i64) -> Event {
        let subscription = story.is_subscription();
        let status = if subscription { story.status } else { None };
        let content = match notice {
            Notice::V1(t) => Content::V1(v1::body(story, t, at)),
            Notice::V2(kind) => Content::V2(self.container(story, kind, at)),
        };
        let has_purchase = match &content {
            Content::V2(Container::Data { transaction, .. }) => transaction.is_some(),
            Content::V2(_) => false,
            Content::V1(_) => !story.txns.is_empty(),
        };
        Event {
            notice,
            uuid: self.ids.uuid(),
            signed_date: at,
            status,
            original_transaction_id: has_purchase.then(|| story.original_transaction_id.clone()),
            transaction_id: if has_purchase {
                story.current().map(|t| t.id.clone())
            } else {
                None
            },
            content,
        }
    }

    fn container(&mut self, story: &Story, kind: Kind, at: i64) -> Container {
        let target = &self.target;
        match (kind.notification_type, kind.subtype) {
            ("RENEWAL_EXTENSION", Some("SUMMARY")) => Container::Summary(json!({
                "environment": target.environment,
                "appAppleId": target.app_apple_id,
                "bundleId": target.bundle_id,
                "productId": PRO.id,
                "requestIdentifier": self.ids.uuid(),
                "storefrontCountryCodes": ["USA", "CAN", "GBR"],
                "succeededCount": 2_417,
                "failedCount": 3,
            })),
            ("EXTERNAL_PURCHASE_TOKEN", subtype) => {
                let id = if target.is_production() {
                    self.ids.uuid()
                } else {
                    format!("SANDBOX_{}", self.ids.uuid())
                };
                let created = at - 35 * DAY;
                let mut token = json!({
                    "externalPurchaseId": id,
                    "tokenCreationDate": if subtype == Some("CREATED") { at } else { created },
                    "appAppleId": target.app_apple_id,
                    "bundleId": target.bundle_id,
                });
                if subtype != Some("UNREPORTED") {
                    let start = if subtype == Some("CREATED") {
                        at
                    } else {
                        created
                    };
                    let o = obj(&mut token);
                    o.insert("tokenExpirationDate".into(), json!(start + 365 * DAY));
                    o.insert(
                        "tokenType".into(),
                        json!(if subtype == Some("CREATED") {
                            "ACQUISITION"
                        } else {
                            "SERVICES"
                        }),
                    );
                }
                Container::ExternalPurchaseToken(token)
            }
            ("RESCIND_CONSENT", _) => {
                let nonce = self.ids.uuid();
                let verification = base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    self.ids.bytes(48),
                );
                Container::AppData {
                    app_transaction: json!({
                        "receiptType": target.environment,
                        "appAppleId": target.app_apple_id,
                        "bundleId": target.bundle_id,
                        "applicationVersion": target.bundle_version,
                        "versionExternalIdentifier": 873_452_137,
                        "receiptCreationDate": at,
                        "originalPurchaseDate": at - 200 * DAY,
                        "originalApplicationVersion": "1",
                        "deviceVerification": verification,
                        "deviceVerificationNonce": nonce,
                        "appTransactionId": story.app_transaction_id,
                        "originalPlatform": "iOS",
                    }),
                }
            }
            _ => Container::Data {
                transaction: story.transaction_json(at),
                renewal: story.renewal_json(at),
                status: if story.is_subscription() {
                    story.status
                } else {
                    None
                },
                consumption_request_reason: story.consumption_reason,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator() -> Generator {
        Generator::with_ids(Target::default(), Ids::seeded(7))
    }

    #[test]
    fn parses_types_and_subtypes() {
        assert_eq!(
            Kind::parse("expired", Some("voluntary")).unwrap().label(),
            "EXPIRED/VOLUNTARY"
        );
        assert_eq!(Kind::parse("EXPIRED", None).unwrap().label(), "EXPIRED");
        let err = Kind::parse("SUBSCRIBED", None).unwrap_err().to_string();
        assert_eq!(err, "SUBSCRIBED needs --subtype: INITIAL_BUY, RESUBSCRIBE");
        let err = Kind::parse("REFUND", Some("FULL")).unwrap_err().to_string();
        assert!(err.starts_with("REFUND has no subtype \"FULL\""), "{err}");
        let err = Kind::parse("REFUNDED", None).unwrap_err().to_string();
        assert!(
            err.starts_with("unknown notification type \"REFUNDED\""),
            "{err}"
        );
        assert_eq!(Kind::all().len(), 39);
        assert!(Scenario::parse("nope").is_err());
        assert_eq!(Scenario::parse("All-Types").unwrap(), Scenario::AllTypes);
    }

    #[test]
    fn storefront_prices_look_like_price_tiers() {
        assert_eq!(STOREFRONTS[0].price(9_990), 9_990);
        assert_eq!(STOREFRONTS[2].price(9_990), 9_990); // EUR 9.19 -> 9.99
        assert_eq!(STOREFRONTS[4].price(9_990), 1_500_000); // JPY 1498.5 -> 1500
        assert_eq!(STOREFRONTS[1].price(9_990), 7_990); // GBP 7.99
    }

    #[test]
    fn ids_are_unique_and_shaped_like_apples() {
        let mut ids = Ids::seeded(1);
        let sandbox = Target::default();
        let a = ids.transaction_id(&sandbox);
        let b = ids.transaction_id(&sandbox);
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.starts_with('2') && a.bytes().all(|c| c.is_ascii_digit()));
        let production = Target {
            environment: "Production".into(),
            ..Target::default()
        };
        assert!(ids.transaction_id(&production).starts_with('1'));
        assert_ne!(ids.uuid(), ids.uuid());
    }

    #[test]
    fn lifecycle_dates_increase_and_statuses_follow_the_story() {
        let end = 1_800_000_000_000;
        let events = generator().scenario(Scenario::Lifecycle, end);
        let labels: Vec<String> = events.iter().map(|e| e.notice.label()).collect();
        assert_eq!(
            labels,
            [
                "SUBSCRIBED/INITIAL_BUY",
                "DID_RENEW",
                "DID_RENEW",
                "DID_RENEW",
                "DID_CHANGE_RENEWAL_STATUS/AUTO_RENEW_DISABLED",
                "EXPIRED/VOLUNTARY"
            ]
        );
        assert_eq!(events.last().unwrap().signed_date, end);
        assert!(
            events
                .windows(2)
                .all(|w| w[0].signed_date < w[1].signed_date)
        );
        let statuses: Vec<Option<i64>> = events.iter().map(|e| e.status).collect();
        assert_eq!(
            statuses,
            [Some(1), Some(1), Some(1), Some(1), Some(1), Some(2)]
        );
        let otid = events[0].original_transaction_id.clone();
        assert!(events.iter().all(|e| e.original_transaction_id == otid));
        // Each renewal is a new transaction.
        let mut txns: Vec<_> = events.iter().map(|e| e.transaction_id.clone()).collect();
        txns.dedup();
        assert_eq!(txns.len(), 4);
    }

    #[test]
    fn transaction_and_renewal_agree() {
        let mut g = generator();
        for kind in Kind::all() {
            let event = g.single(kind, 1_800_000_000_000);
            let Content::V2(Container::Data {
                transaction: Some(t),
                renewal,
                status,
                ..
            }) = &event.content
            else {
                continue;
            };
            assert_eq!(t["environment"], "Sandbox", "{}", kind.label());
            assert_eq!(t["bundleId"], "com.example.app");
            assert_eq!(t["signedDate"], json!(event.signed_date));
            assert!(t["price"].as_i64().unwrap() > 0, "{}", kind.label());
            if let Some(r) = renewal {
                assert!(status.is_some(), "{}", kind.label());
                assert_eq!(r["originalTransactionId"], t["originalTransactionId"]);
                assert_eq!(r["productId"], t["productId"], "{}", kind.label());
                assert_eq!(r["renewalDate"], t["expiresDate"], "{}", kind.label());
                assert_eq!(r["currency"], t["currency"]);
                assert_eq!(r["environment"], t["environment"]);
                assert_eq!(r["appAccountToken"], t["appAccountToken"]);
                assert!(
                    t["purchaseDate"].as_i64() <= t["expiresDate"].as_i64(),
                    "{}",
                    kind.label()
                );
            } else {
                assert!(status.is_none(), "{}", kind.label());
                assert_ne!(t["type"], "Auto-Renewable Subscription");
            }
        }
    }
}
