//! Which steps each notification type and scenario plays, and which of them are announced.

use super::catalogue::{Kind, Notice, Scenario};
use super::story::{Expiry, Line, Step};

pub(super) struct Script {
    pub(super) line: Line,
    /// Each step, and what is sent for it (`None`: it happens silently).
    pub(super) steps: Vec<(Step, Option<Notice>)>,
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

pub(super) fn single_script(kind: Kind) -> Script {
    let (line, prelude, step) = plan(kind);
    let mut steps: Vec<(Step, Option<Notice>)> = prelude.into_iter().map(|s| (s, None)).collect();
    steps.push((step, Some(Notice::V2(kind))));
    Script { line, steps }
}

/// The V2 story a V1 type tells (CANCEL: a refunded subscription).
pub(super) fn v1_script(v1_type: &'static str) -> Script {
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
pub(super) fn v1_equivalent(kind: Kind) -> Option<&'static str> {
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

pub(super) fn scenario_script(scenario: Scenario) -> Script {
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
