//! One customer's purchase moved through Apple's life cycle: the state a [`Story`] keeps and the
//! [`Step`]s that change it.

use super::ids::Ids;
use super::products::{
    ADVANCED, BASIC, COINS, LIFETIME, Offer, PREMIUM, PRO, Product, STOREFRONTS, Storefront,
};
use super::{BILLING_RETRY, DAY, GRACE, MINUTE, PERIOD, SECOND, Target};

/// What a story sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Line {
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
pub(super) enum Expiry {
    Voluntary,
    BillingRetry,
    PriceIncrease,
    ProductNotForSale,
    Other,
}

/// One change in a story's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
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
pub(in crate::simulate) struct Txn {
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
pub(super) struct Advanced {
    pub(super) display_name: &'static str,
    pub(super) description: &'static str,
    pub(super) request_reference_id: String,
    pub(super) consistency_token: String,
    /// A scheduled new price (PRICE_CHANGE).
    pub(super) new_price: Option<i64>,
}

/// One customer's purchase and everything that happened to it so far.
#[derive(Debug, Clone)]
pub(in crate::simulate) struct Story {
    pub target: Target,
    line: Line,
    pub storefront: &'static Storefront,
    pub original_transaction_id: String,
    pub(super) previous_original_transaction_id: Option<String>,
    pub original_purchase: i64,
    /// Oldest first; the last is the current transaction.
    pub txns: Vec<Txn>,
    pub ownership: &'static str,
    pub account_token: String,
    pub(super) app_transaction_id: String,
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
    pub(super) win_back: bool,
    pub(super) recent_start: i64,
    pub(super) advanced: Option<Advanced>,
    pub(super) consumption_reason: Option<&'static str>,
    clock: i64,
}

impl Story {
    pub(super) fn new(target: &Target, line: Line, start: i64, ids: &mut Ids) -> Story {
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

    pub(super) fn price(&self, product: &Product) -> i64 {
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
    pub(super) fn apply(&mut self, step: Step, ids: &mut Ids) -> i64 {
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
}
