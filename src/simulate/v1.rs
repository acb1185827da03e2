//! V1 bodies ([`responseBodyV1`](https://developer.apple.com/documentation/appstoreservernotifications/responsebodyv1)), rendered from the same stories as V2 notifications:
//! unsigned JSON whose values are mostly strings, dates three times over (`…_date` in GMT,
//! `…_date_ms`, `…_date_pst` in Pacific time), authenticated by the app's shared secret in
//! `password` (added by [`super::payloads::Event::body`]). Pure.

use serde_json::{Map, Value, json};
use time::macros::format_description;
use time::{Date, Duration, Month, OffsetDateTime, Weekday};

use super::payloads::{Offer, Story, Txn};

/// The V1 body of `story` as it stands, without `password`.
pub(super) fn body(story: &Story, notification_type: &str, at: i64) -> Value {
    let target = &story.target;
    let production = target.environment == "Production";
    let mut b = Map::new();
    b.insert("notification_type".into(), json!(notification_type));
    b.insert(
        "environment".into(),
        json!(if production { "PROD" } else { "Sandbox" }),
    );
    b.insert("bid".into(), json!(target.bundle_id));
    b.insert("bvrs".into(), json!(target.bundle_version));
    if story.is_subscription() {
        b.insert(
            "auto_renew_adam_id".into(),
            json!(story.auto_renew_product.adam_id),
        );
        b.insert(
            "auto_renew_product_id".into(),
            json!(story.auto_renew_product.id),
        );
        b.insert("auto_renew_status".into(), json!(flag(story.auto_renew)));
        dates(
            &mut b,
            "auto_renew_status_change_date",
            story.auto_renew_changed,
        );
        if let Some(intent) = story.expiration_intent {
            b.insert("expiration_intent".into(), json!(intent));
        }
    }
    // Documented as a "long".
    let original: Value = story
        .original_transaction_id
        .parse::<i64>()
        .map_or_else(|_| json!(story.original_transaction_id), |n| json!(n));
    b.insert("original_transaction_id".into(), original);

    let receipt_text = format!(
        "asnd simulated receipt for {} {} at {at}; not an App Store receipt",
        target.bundle_id, story.original_transaction_id
    );
    let pending: Vec<Value> = if story.is_subscription() {
        vec![pending_renewal(story)]
    } else {
        Vec::new()
    };
    b.insert(
        "unified_receipt".into(),
        json!({
            "environment": if production { "Production" } else { "Sandbox" },
            "latest_receipt": base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                receipt_text.as_bytes()
            ),
            "latest_receipt_info": story.txns.iter().rev().map(|t| receipt_info(story, t)).collect::<Vec<_>>(),
            "pending_renewal_info": pending,
            "status": 0,
        }),
    );
    Value::Object(b)
}

fn receipt_info(story: &Story, t: &Txn) -> Value {
    let mut r = Map::new();
    r.insert("quantity".into(), json!("1"));
    r.insert("product_id".into(), json!(t.product.id));
    r.insert("transaction_id".into(), json!(t.id));
    r.insert(
        "original_transaction_id".into(),
        json!(story.original_transaction_id),
    );
    dates(&mut r, "purchase_date", t.purchase);
    dates(&mut r, "original_purchase_date", story.original_purchase);
    if let Some(expires) = t.expires {
        dates(&mut r, "expires_date", expires);
    }
    if let Some(w) = &t.web_order_line_item_id {
        r.insert("web_order_line_item_id".into(), json!(w));
        r.insert("subscription_group_identifier".into(), json!("21000001"));
    }
    let intro = t.offer.is_some_and(|o| o.offer_type == 1);
    let trial = t
        .offer
        .is_some_and(|o| o.offer_type == 1 && o.discount_type == "FREE_TRIAL");
    r.insert("is_trial_period".into(), json!(flag(trial)));
    r.insert("is_in_intro_offer_period".into(), json!(flag(intro)));
    r.insert("in_app_ownership_type".into(), json!(story.ownership));
    r.insert("app_account_token".into(), json!(story.account_token));
    offer_id(&mut r, t.offer.as_ref());
    if t.upgraded {
        r.insert("is_upgraded".into(), json!("true"));
    }
    if let Some((date, reason, _)) = t.revocation {
        dates(&mut r, "cancellation_date", date);
        r.insert("cancellation_reason".into(), json!(reason.to_string()));
    }
    Value::Object(r)
}

fn pending_renewal(story: &Story) -> Value {
    let mut p = Map::new();
    p.insert(
        "auto_renew_product_id".into(),
        json!(story.auto_renew_product.id),
    );
    p.insert(
        "auto_renew_status".into(),
        json!(if story.auto_renew { "1" } else { "0" }),
    );
    p.insert(
        "original_transaction_id".into(),
        json!(story.original_transaction_id),
    );
    if let Some(t) = story.current() {
        p.insert("product_id".into(), json!(t.product.id));
    }
    p.insert(
        "is_in_billing_retry_period".into(),
        json!(if story.billing_retry { "1" } else { "0" }),
    );
    if let Some(intent) = story.expiration_intent {
        p.insert("expiration_intent".into(), json!(intent.to_string()));
    }
    if let Some(g) = story.grace_end {
        dates(&mut p, "grace_period_expires_date", g);
    }
    if let Some(s) = story.price_increase_status {
        p.insert("price_consent_status".into(), json!(s.to_string()));
    }
    offer_id(&mut p, story.renewal_offer.as_ref());
    Value::Object(p)
}

/// V1 names a promotional offer and an offer code in different fields; other offers in none.
fn offer_id(map: &mut Map<String, Value>, offer: Option<&Offer>) {
    let Some(o) = offer else { return };
    let key = match o.offer_type {
        2 => "promotional_offer_id",
        3 => "offer_code_ref_name",
        _ => return,
    };
    map.insert(key.into(), json!(o.identifier));
}

fn flag(on: bool) -> &'static str {
    if on { "true" } else { "false" }
}

/// `prefix`, `prefix_ms` and `prefix_pst`, as V1 writes every date.
fn dates(map: &mut Map<String, Value>, prefix: &str, ms: i64) {
    let (gmt, pst) = v1_dates(ms);
    map.insert(prefix.into(), json!(gmt));
    map.insert(format!("{prefix}_ms"), json!(ms.to_string()));
    map.insert(format!("{prefix}_pst"), json!(pst));
}

/// `("2026-11-29 18:27:38 Etc/GMT", "2026-11-29 10:27:38 America/Los_Angeles")`.
pub fn v1_dates(ms: i64) -> (String, String) {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let utc = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let pacific = utc + Duration::hours(pacific_offset_hours(utc));
    (
        format!("{} Etc/GMT", utc.format(&format).unwrap_or_default()),
        format!(
            "{} America/Los_Angeles",
            pacific.format(&format).unwrap_or_default()
        ),
    )
}

/// −7 during US daylight saving time (second Sunday of March, 2:00 local, to the first Sunday of
/// November, 2:00 local), −8 otherwise.
fn pacific_offset_hours(utc: OffsetDateTime) -> i64 {
    let year = utc.year();
    let sunday = |month: Month, nth: u8| {
        Date::from_calendar_date(year, month, 1).ok().map(|first| {
            let to_sunday = (7 - first.weekday().number_days_from_sunday()) % 7;
            first + Duration::days(i64::from(to_sunday) + 7 * i64::from(nth - 1))
        })
    };
    let (Some(start), Some(end)) = (sunday(Month::March, 2), sunday(Month::November, 1)) else {
        return -8;
    };
    debug_assert_eq!(start.weekday(), Weekday::Sunday);
    let start = start.midnight().assume_utc() + Duration::hours(10); // 02:00 PST
    let end = end.midnight().assume_utc() + Duration::hours(9); // 02:00 PDT
    if utc >= start && utc < end { -7 } else { -8 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_gmt_and_pacific_time() {
        // 2026-11-29 18:27:38 UTC: standard time.
        assert_eq!(
            v1_dates(1_795_976_858_000),
            (
                "2026-11-29 18:27:38 Etc/GMT".to_string(),
                "2026-11-29 10:27:38 America/Los_Angeles".to_string()
            )
        );
        // 2026-07-01 12:00:00 UTC: daylight time.
        assert_eq!(
            v1_dates(1_782_907_200_000).1,
            "2026-07-01 05:00:00 America/Los_Angeles"
        );
        // DST starts 2026-03-08 10:00 UTC.
        assert_eq!(
            v1_dates(1_772_963_999_000).1,
            "2026-03-08 01:59:59 America/Los_Angeles"
        );
        assert_eq!(
            v1_dates(1_772_964_000_000).1,
            "2026-03-08 03:00:00 America/Los_Angeles"
        );
        // DST ends 2026-11-01 09:00 UTC.
        assert_eq!(
            v1_dates(1_793_523_600_000).1,
            "2026-11-01 01:00:00 America/Los_Angeles"
        );
    }
}
