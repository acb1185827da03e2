//! V1 notifications (`notification_type`, authenticated by the app's shared secret) end to end: the
//! real daemon over real TLS, on SQLite and PostgreSQL, asserting on status codes AND rows, and
//! that no secret is ever stored.

#[macro_use]
mod common;

use asnd::config::{AppConfig, Config};
use common::*;
use serde_json::{Value, json};

const SECRET: &str = "5f3c0a9e1b2d4c6e8f0a1b2c3d4e5f60";
const ROTATED: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
/// The secret of a second app, which accepts Sandbox only.
const OTHER_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SANDBOX_ONLY: &str = "com.example.sandboxonly";
const TOKEN: &str = "7e3fb20b-4cdb-47cc-936d-99d65f608138";
const DAY: i64 = 86_400_000;
const MONTH: i64 = 30 * DAY;

/// The common [`common::Env`] with V1 secrets configured, and V1 checks on its rows.
struct Env(common::Env);

impl std::ops::Deref for Env {
    type Target = common::Env;
    fn deref(&self) -> &common::Env {
        &self.0
    }
}

impl Env {
    async fn new(backend: Backend) -> Env {
        Env::with(backend, |_| {}).await
    }

    /// The fixture's configuration with both V1 secrets on the main app and a second,
    /// Sandbox-only app; `adjust` may change it further.
    async fn with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Env {
        Env(common::Env::start(backend, LOOPBACK, |config| {
            config.apps[0].v1_shared_secrets = vec![SECRET.into(), ROTATED.into()];
            config.apps.push(AppConfig {
                bundle_id: SANDBOX_ONLY.into(),
                environments: vec![asnd::config::AppEnvironment::Sandbox],
                v1_shared_secrets: vec![OTHER_SECRET.into()],
                ..AppConfig::default()
            });
            adjust(config);
        })
        .await)
    }

    async fn finish(self) {
        self.0.finish().await;
    }

    /// One row of `table` as `a|b|c`; time columns (named `ms:column`) as milliseconds, NULL as `-`.
    async fn row(&self, table: &str, columns: &[&str], filter: &str) -> String {
        let rendered: Vec<String> = columns
            .iter()
            .map(|c| match c.strip_prefix("ms:") {
                Some(time) => format!("COALESCE({}, '-')", millis_sql(self.db.backend, time)),
                None => format!("COALESCE(CAST({c} AS TEXT), '-')"),
            })
            .collect();
        self.db
            .one(&format!(
                "SELECT {} FROM {table} WHERE {filter}",
                rendered.join(" || '|' || ")
            ))
            .await
    }

    async fn post(&self, body: &Value) -> (u16, Value) {
        self.daemon.post(body.to_string()).await
    }

    /// A stored body column (`raw_body` bytes or `payload` JSON) parsed as JSON.
    async fn stored_json(&self, table: &str, column: &str, filter: &str) -> Value {
        let text = match (self.db.backend, column) {
            (Backend::Postgres, "raw_body") => format!("convert_from({column}, 'UTF8')"),
            _ => format!("CAST({column} AS TEXT)"),
        };
        let raw = self
            .db
            .one(&format!("SELECT {text} FROM {table} WHERE {filter}"))
            .await;
        serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{column} is not JSON ({e}): {raw}"))
    }

    /// No secret in any column of any table.
    async fn assert_no_secret_stored(&self, secrets: &[&str]) {
        for secret in secrets {
            let rows = self.db.rows_containing(secret).await;
            assert!(rows.is_empty(), "secret {secret} stored in {rows:?}");
        }
    }
}

// ---- realistic V1 bodies (App Store Server Notifications V1, `responseBodyV1`) ----

/// One `latest_receipt_info` entry of an auto-renewable subscription (expires) or of another
/// product (no expiry). Every value a string, as Apple documents.
fn entry(original: &str, txn: &str, purchase: i64, expires: Option<i64>, extra: Value) -> Value {
    let mut e = json!({
        "transaction_id": txn, "original_transaction_id": original, "product_id": "pro.monthly",
        "purchase_date": "2024-05-01 10:00:00 Etc/GMT", "purchase_date_ms": purchase.to_string(),
        "purchase_date_pst": "2024-05-01 03:00:00 America/Los_Angeles",
        "original_purchase_date": "2024-04-01 10:00:00 Etc/GMT",
        "original_purchase_date_ms": (purchase - 40 * DAY).to_string(),
        "original_purchase_date_pst": "2024-04-01 03:00:00 America/Los_Angeles",
        "quantity": "1", "web_order_line_item_id": format!("{txn}7"), "is_trial_period": "false",
        "is_in_intro_offer_period": "false", "in_app_ownership_type": "PURCHASED",
        "subscription_group_identifier": "21000001", "app_account_token": TOKEN
    });
    if let Some(expires) = expires {
        e["expires_date"] = json!("2024-06-01 10:00:00 Etc/GMT");
        e["expires_date_ms"] = json!(expires.to_string());
        e["expires_date_pst"] = json!("2024-06-01 03:00:00 America/Los_Angeles");
    }
    merge(&mut e, extra);
    e
}

fn pending(original: &str, extra: Value) -> Value {
    let mut p = json!({
        "auto_renew_product_id": "pro.monthly", "auto_renew_status": "1",
        "original_transaction_id": original, "product_id": "pro.monthly"
    });
    merge(&mut p, extra);
    p
}

fn v1_body(
    kind: &str,
    environment: &str,
    original: &str,
    entries: Vec<Value>,
    renewals: Vec<Value>,
    top: Value,
) -> Value {
    let receipt_environment = if environment == "PROD" {
        "Production"
    } else {
        "Sandbox"
    };
    let mut b = json!({
        "notification_type": kind, "password": SECRET, "environment": environment, "bid": BUNDLE,
        "bvrs": "42", "auto_renew_status": "true", "auto_renew_product_id": "pro.monthly",
        "auto_renew_adam_id": "1500000001",
        "auto_renew_status_change_date": "2024-04-01 10:00:00 Etc/GMT",
        "auto_renew_status_change_date_ms": "1711965600000",
        "auto_renew_status_change_date_pst": "2024-04-01 03:00:00 America/Los_Angeles",
        "original_transaction_id": original, "deprecation": "Mon, 5 Jun 2023 07:00:00 GMT",
        "unified_receipt": {
            "environment": receipt_environment, "status": 0,
            "latest_receipt": "MIIUVQYJKoZIhvcNAQcCoIIURjCCFEICAQExCzAJBgUrDgMCGgUAMIIDvQ",
            "latest_receipt_info": entries, "pending_renewal_info": renewals
        }
    });
    merge(&mut b, top);
    b
}

fn without_password(body: &Value) -> Value {
    let mut b = body.clone();
    b.as_object_mut().unwrap().remove("password");
    b
}

/// One V1 `notification_type` with the rows it must produce.
struct Case {
    body: Value,
    /// The notification's `transaction_id` (its latest entry).
    main: String,
    /// `product_id|purchase|expires|revocation|revocation_reason|ownership|offer_type|signed_date`.
    transaction: String,
    /// `status|product|auto_renew_product|auto_renew_status|expires|grace|retry|intent|signed_date`,
    /// or None when no subscription row may exist.
    subscription: Option<String>,
}

fn cases(now: i64) -> Vec<Case> {
    let mut out = Vec::new();
    let mut n = 0;
    let mut add = |kind: &str,
                   entries: &dyn Fn(&str) -> Vec<Value>,
                   renewals: &dyn Fn(&str) -> Vec<Value>,
                   top: Value,
                   transaction: String,
                   subscription: Option<String>| {
        n += 1;
        let original = format!("10000001000000{n:02}");
        let environment = if n % 2 == 0 { "Sandbox" } else { "PROD" };
        let body = v1_body(
            kind,
            environment,
            &original,
            entries(&original),
            renewals(&original),
            top,
        );
        let main = format!("{original}2");
        out.push(Case {
            body,
            main,
            transaction,
            subscription,
        });
    };
    let (hour_ago, day_ago, second_ago) = (now - 3_600_000, now - DAY, now - 1_000);
    let t = |o: &str, i: u8| format!("{o}{i}");
    let renewed = move |o: &str| {
        vec![
            entry(o, &t(o, 2), hour_ago, Some(now + MONTH), json!({})),
            entry(o, &t(o, 1), hour_ago - MONTH, Some(hour_ago), json!({})),
        ]
    };
    let one_renewal = |o: &str| vec![pending(o, json!({}))];
    let active_sub = |signed: i64, expires: i64| {
        Some(format!(
            "1|pro.monthly|pro.monthly|1|{expires}|-|-|-|{signed}"
        ))
    };

    add(
        "INITIAL_BUY",
        &|o| {
            vec![entry(
                o,
                &t(o, 2),
                hour_ago,
                Some(now + 7 * DAY),
                json!({"is_trial_period": "true"}),
            )]
        },
        &one_renewal,
        json!({"auto_renew_status_change_date_ms": hour_ago.to_string()}),
        format!(
            "pro.monthly|{hour_ago}|{}|-|-|PURCHASED|1|{hour_ago}",
            now + 7 * DAY
        ),
        active_sub(hour_ago, now + 7 * DAY),
    );
    for kind in ["DID_RENEW", "INTERACTIVE_RENEWAL", "DID_RECOVER", "RENEWAL"] {
        add(
            kind,
            &renewed,
            &one_renewal,
            json!({}),
            format!(
                "pro.monthly|{hour_ago}|{}|-|-|PURCHASED|-|{hour_ago}",
                now + MONTH
            ),
            active_sub(hour_ago, now + MONTH),
        );
    }
    let one_active = move |o: &str| {
        vec![entry(
            o,
            &t(o, 2),
            day_ago,
            Some(now + MONTH - DAY),
            json!({}),
        )]
    };
    let active_txn = format!(
        "pro.monthly|{day_ago}|{}|-|-|PURCHASED|-|{day_ago}",
        now + MONTH - DAY
    );
    add(
        "DID_CHANGE_RENEWAL_PREF",
        &one_active,
        &|o| vec![pending(o, json!({"auto_renew_product_id": "pro.yearly"}))],
        json!({"auto_renew_product_id": "pro.yearly"}),
        active_txn.clone(),
        Some(format!(
            "1|pro.monthly|pro.yearly|1|{}|-|-|-|{day_ago}",
            now + MONTH - DAY
        )),
    );
    add(
        "DID_CHANGE_RENEWAL_STATUS",
        &one_active,
        &|o| {
            vec![pending(
                o,
                json!({"auto_renew_status": "0", "expiration_intent": "1"}),
            )]
        },
        json!({"auto_renew_status": "false", "auto_renew_status_change_date_ms": second_ago.to_string()}),
        active_txn.clone(),
        // The status change is the state's newest event.
        Some(format!(
            "1|pro.monthly|pro.monthly|0|{}|-|-|1|{second_ago}",
            now + MONTH - DAY
        )),
    );
    add(
        "DID_FAIL_TO_RENEW",
        &|o| {
            vec![entry(
                o,
                &t(o, 2),
                day_ago - MONTH,
                Some(day_ago),
                json!({}),
            )]
        },
        &|o| {
            vec![pending(
                o,
                json!({"is_in_billing_retry_period": "1", "expiration_intent": "2",
                       "grace_period_expires_date_ms": (now + 6 * DAY).to_string(),
                       "grace_period_expires_date": "2024-06-07 10:00:00 Etc/GMT"}),
            )]
        },
        json!({}),
        format!(
            "pro.monthly|{}|{day_ago}|-|-|PURCHASED|-|{}",
            day_ago - MONTH,
            day_ago - MONTH
        ),
        Some(format!(
            "4|pro.monthly|pro.monthly|1|{day_ago}|{}|yes|2|{}",
            now + 6 * DAY,
            day_ago - MONTH
        )),
    );
    let cancelled = move |o: &str| {
        vec![entry(
            o,
            &t(o, 2),
            day_ago,
            Some(now + MONTH - DAY),
            json!({"cancellation_date_ms": second_ago.to_string(), "cancellation_reason": "1",
                   "cancellation_date": "2024-05-02 10:00:00 Etc/GMT"}),
        )]
    };
    add(
        "CANCEL",
        &cancelled,
        &|o| vec![pending(o, json!({"auto_renew_status": "0"}))],
        json!({"auto_renew_status": "false"}),
        format!(
            "pro.monthly|{day_ago}|{}|{second_ago}|1|PURCHASED|-|{second_ago}",
            now + MONTH - DAY
        ),
        Some(format!(
            "5|pro.monthly|pro.monthly|0|{}|-|-|-|{second_ago}",
            now + MONTH - DAY
        )),
    );
    let consumable = |extra: Value| {
        move |o: &str| {
            let mut e = entry(
                o,
                &t(o, 2),
                day_ago,
                None,
                json!({"product_id": "coins.100"}),
            );
            merge(&mut e, extra.clone());
            vec![e]
        }
    };
    // A consumable: no pending renewal, no subscription, and no auto-renewal at the top level.
    for (kind, extra, txn) in [
        (
            "REFUND",
            json!({"cancellation_date_ms": second_ago.to_string(), "cancellation_reason": "0"}),
            format!("coins.100|{day_ago}|-|{second_ago}|0|PURCHASED|-|{second_ago}"),
        ),
        (
            "CONSUMPTION_REQUEST",
            json!({}),
            format!("coins.100|{day_ago}|-|-|-|PURCHASED|-|{day_ago}"),
        ),
    ] {
        add(
            kind,
            &consumable(extra),
            &|_| vec![],
            json!({"auto_renew_status": null, "auto_renew_product_id": null}),
            txn,
            None,
        );
    }
    add(
        "REVOKE",
        &move |o| {
            vec![entry(
                o,
                &t(o, 2),
                day_ago,
                Some(now + MONTH - DAY),
                json!({"in_app_ownership_type": "FAMILY_SHARED",
                       "cancellation_date_ms": second_ago.to_string(), "cancellation_reason": "0"}),
            )]
        },
        &one_renewal,
        json!({}),
        format!(
            "pro.monthly|{day_ago}|{}|{second_ago}|0|FAMILY_SHARED|-|{second_ago}",
            now + MONTH - DAY
        ),
        Some(format!(
            "5|pro.monthly|pro.monthly|1|{}|-|-|-|{second_ago}",
            now + MONTH - DAY
        )),
    );
    add(
        "PRICE_INCREASE_CONSENT",
        &one_active,
        &|o| vec![pending(o, json!({"price_consent_status": "0"}))],
        json!({}),
        active_txn,
        Some(format!(
            "1|pro.monthly|pro.monthly|1|{}|-|-|-|{day_ago}",
            now + MONTH - DAY
        )),
    );
    out
}

const TRANSACTION_COLUMNS: &[&str] = &[
    "product_id",
    "ms:purchase_date",
    "ms:expires_date",
    "ms:revocation_date",
    "revocation_reason",
    "in_app_ownership_type",
    "offer_type",
    "ms:signed_date",
];

const SUBSCRIPTION_COLUMNS: &[&str] = &[
    "status",
    "product_id",
    "auto_renew_product_id",
    "auto_renew_status",
    "ms:expires_date",
    "ms:grace_period_expires_date",
    "CASE WHEN is_in_billing_retry_period THEN 'yes' END",
    "expiration_intent",
    "ms:signed_date",
];

async fn every_v1_type_is_stored_with_its_rows(backend: Backend) {
    let env = Env::new(backend).await;
    let cases = cases(now_ms());
    assert_eq!(
        cases.len(),
        13,
        "every V1 notification_type Apple documents"
    );
    for case in &cases {
        let b = &case.body;
        let kind = b["notification_type"].as_str().unwrap();
        let original = b["original_transaction_id"].as_str().unwrap();
        let environment = if b["environment"] == "PROD" {
            "Production"
        } else {
            "Sandbox"
        };
        let (status, reply) = env.post(b).await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (200, Some("stored")),
            "{kind}: {reply}"
        );

        let filter = format!("original_transaction_id = '{original}'");
        let n = env
            .row(
                "notifications",
                &[
                    "notification_type",
                    "subtype",
                    "version",
                    "environment",
                    "bundle_id",
                    "app_apple_id",
                    "ms:signed_date",
                    "transaction_id",
                    "verified_by",
                    "source_address",
                ],
                &filter,
            )
            .await;
        assert_eq!(
            n,
            format!(
                "{kind}|-|1|{environment}|{BUNDLE}|-|-|{}|v1-shared-secret|127.0.0.1",
                case.main
            ),
            "{kind}"
        );
        // The body is kept without its password, as bytes and decoded.
        let expected = without_password(b);
        assert_eq!(
            env.stored_json("notifications", "raw_body", &filter).await,
            expected,
            "{kind}"
        );
        assert_eq!(
            env.stored_json("notifications", "payload", &filter).await,
            expected,
            "{kind}"
        );
        let uuid = env
            .db
            .one(&format!(
                "SELECT notification_uuid FROM notifications WHERE {filter}"
            ))
            .await;

        // Every entry is a transaction row; the notification's own one is checked column by column.
        let entries = b["unified_receipt"]["latest_receipt_info"]
            .as_array()
            .unwrap()
            .len();
        let count = env
            .db
            .one(&format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM transactions WHERE {filter}"
            ))
            .await;
        assert_eq!(count, entries.to_string(), "{kind}");
        let txn_filter = format!("transaction_id = '{}'", case.main);
        assert_eq!(
            env.row("transactions", TRANSACTION_COLUMNS, &txn_filter)
                .await,
            case.transaction,
            "{kind}"
        );
        assert_eq!(
            env.row(
                "transactions",
                &[
                    "original_transaction_id",
                    "bundle_id",
                    "environment",
                    "app_account_token",
                    "quantity",
                    "web_order_line_item_id",
                    "last_notification_uuid",
                    "product_type",
                    "price"
                ],
                &txn_filter
            )
            .await,
            format!(
                "{original}|{BUNDLE}|{environment}|{TOKEN}|1|{}7|{uuid}|-|-",
                case.main
            ),
            "{kind}"
        );

        match &case.subscription {
            Some(expected) => {
                assert_eq!(
                    env.row("subscriptions", SUBSCRIPTION_COLUMNS, &filter)
                        .await,
                    *expected,
                    "{kind}"
                );
                assert_eq!(
                    env.row(
                        "subscriptions",
                        &[
                            "bundle_id",
                            "environment",
                            "app_account_token",
                            "last_notification_uuid",
                            "last_notification_type",
                            "last_subtype"
                        ],
                        &filter
                    )
                    .await,
                    format!("{BUNDLE}|{environment}|{TOKEN}|{uuid}|{kind}|-"),
                    "{kind}"
                );
            }
            None => {
                let count = env
                    .db
                    .one(&format!(
                        "SELECT CAST(COUNT(*) AS TEXT) FROM subscriptions WHERE {filter}"
                    ))
                    .await;
                assert_eq!(count, "0", "{kind}: no subscription for a consumable");
            }
        }
    }
    assert_eq!(env.db.count("notifications").await, 13);
    assert_eq!(env.db.count("rejected_notifications").await, 0);
    env.assert_no_secret_stored(&[SECRET]).await;
    env.finish().await;
}
on_both_stores!(every_v1_type_is_stored_with_its_rows);

fn renew_body(original: &str, now: i64) -> Value {
    v1_body(
        "DID_RENEW",
        "PROD",
        original,
        vec![entry(
            original,
            &format!("{original}2"),
            now - DAY,
            Some(now + MONTH),
            json!({}),
        )],
        vec![pending(original, json!({}))],
        json!({}),
    )
}

async fn a_retried_v1_body_is_stored_once(backend: Backend) {
    let env = Env::new(backend).await;
    let body = renew_body("1000000200000001", now_ms());
    let (status, reply) = env.post(&body).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("stored")));
    let uuid = env
        .db
        .one("SELECT notification_uuid FROM notifications")
        .await;
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(&uuid[14..15], "5", "a UUIDv5: {uuid}");

    // Apple's retries, also concurrent ones, and one sent after the secret was rotated.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, url, body) = (
            env.daemon.client.clone(),
            env.daemon.url("/notifications"),
            body.to_string(),
        );
        tasks.push(tokio::spawn(async move {
            let resp = client.post(url).body(body).send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }));
    }
    for task in tasks {
        let (status, reply) = task.await.unwrap();
        assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")));
    }
    let mut rotated = body.clone();
    rotated["password"] = json!(ROTATED);
    let (status, reply) = env.post(&rotated).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(env.db.count("notifications").await, 1);
    assert_eq!(env.db.count("transactions").await, 1);
    assert_eq!(env.db.count("subscriptions").await, 1);

    // A body that differs in anything is another notification.
    let mut other = body.clone();
    other["bvrs"] = json!("43");
    let (status, reply) = env.post(&other).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("stored")));
    assert_eq!(env.db.count("notifications").await, 2);
    env.finish().await;
}
on_both_stores!(a_retried_v1_body_is_stored_once);

async fn wrong_missing_and_empty_passwords_get_403(backend: Backend) {
    let env = Env::new(backend).await;
    let good = renew_body("1000000300000001", now_ms());
    let wrong = "5f3c0a9e1b2d4c6e8f0a1b2c3d4e5f61";
    let mut refused = Vec::new();
    for (password, why) in [
        (Some(json!(wrong)), "does not match"),
        (Some(json!(SECRET.to_uppercase())), "does not match"),
        (Some(json!(OTHER_SECRET)), "does not match"),
        (Some(json!(format!("{SECRET}\n"))), "does not match"),
        (Some(json!(&SECRET[..31])), "does not match"),
        (None, "is missing"),
        (Some(json!(null)), "is missing"),
        (Some(json!("")), "is empty"),
        (Some(json!(5)), "is a number"),
        (Some(json!([SECRET])), "is an array"),
    ] {
        let mut body = good.clone();
        match &password {
            Some(p) => body["password"] = p.clone(),
            None => {
                body.as_object_mut().unwrap().remove("password");
            }
        }
        let (status, reply) = env.post(&body).await;
        assert_eq!(status, 403, "{password:?}: {reply}");
        assert_eq!(reply["status"], "forbidden");
        let reason = reply["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("VERIFICATION_FAILURE: V1 password ") && reason.contains(why),
            "{reason}"
        );
        for secret in [SECRET, ROTATED, OTHER_SECRET, wrong] {
            assert!(!reason.contains(secret), "{reason}");
        }
        refused.push(without_password(&body));
    }
    assert_eq!(env.db.count("notifications").await, 0);
    assert_eq!(env.db.count("transactions").await, 0);
    assert_eq!(env.db.count("subscriptions").await, 0);
    // Each one is in quarantine, with its password removed and the rest kept.
    let statuses = env
        .db
        .column("SELECT CAST(http_status AS TEXT) FROM rejected_notifications")
        .await;
    assert_eq!(statuses, vec!["403"; refused.len()]);
    let bodies = match backend {
        Backend::Postgres => {
            env.db
                .column(
                    "SELECT convert_from(raw_body, 'UTF8') FROM rejected_notifications ORDER BY id",
                )
                .await
        }
        Backend::Sqlite => {
            env.db
                .column("SELECT CAST(raw_body AS TEXT) FROM rejected_notifications ORDER BY id")
                .await
        }
    };
    let bodies: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(bodies, refused);

    // Bodies refused for other reasons while carrying the right secret keep it out too: not
    // JSON, notification_type not a string, an environment the app does not accept, a shape that
    // is not Apple's.
    let mut bad_type = good.clone();
    bad_type["notification_type"] = json!(7);
    let mut sandbox_only = good.clone();
    sandbox_only["bid"] = json!(SANDBOX_ONLY);
    sandbox_only["password"] = json!(OTHER_SECRET);
    let mut bad_shape = good.clone();
    bad_shape["unified_receipt"]["latest_receipt_info"] = json!("not a list");
    for (body, status) in [
        (
            format!("{{\"password\":\"{SECRET}\",\"notification_type\":"),
            400,
        ),
        (format!("password={SECRET}"), 400),
        (bad_type.to_string(), 400),
        (sandbox_only.to_string(), 422),
        (bad_shape.to_string(), 422),
    ] {
        let (got, reply) = env.daemon.post(body.clone()).await;
        assert_eq!(got, status, "{body}: {reply}");
        assert!(!reply.to_string().contains(SECRET), "{reply}");
    }
    assert_eq!(env.db.count("notifications").await, 0);
    assert_eq!(env.db.count("rejected_notifications").await, 15);
    env.assert_no_secret_stored(&[SECRET, ROTATED, OTHER_SECRET, wrong, &SECRET.to_uppercase()])
        .await;
    env.finish().await;
}
on_both_stores!(wrong_missing_and_empty_passwords_get_403);

async fn a_second_rotated_secret_works(backend: Backend) {
    let env = Env::new(backend).await;
    let now = now_ms();
    for (i, secret) in [SECRET, ROTATED].into_iter().enumerate() {
        let mut body = renew_body(&format!("100000040000000{i}"), now);
        body["password"] = json!(secret);
        let (status, reply) = env.post(&body).await;
        assert_eq!(status, 200, "secret {i}: {reply}");
    }
    // The second app's secret opens that app only.
    let mut other = renew_body("1000000400000009", now);
    other["bid"] = json!(SANDBOX_ONLY);
    other["environment"] = json!("Sandbox");
    other["unified_receipt"]["environment"] = json!("Sandbox");
    other["password"] = json!(OTHER_SECRET);
    assert_eq!(env.post(&other).await.0, 200);
    other["password"] = json!(SECRET);
    other["bvrs"] = json!("43");
    assert_eq!(env.post(&other).await.0, 403);
    assert_eq!(env.db.count("notifications").await, 3);
    env.assert_no_secret_stored(&[SECRET, ROTATED, OTHER_SECRET])
        .await;
    env.finish().await;
}
on_both_stores!(a_second_rotated_secret_works);

async fn unknown_app_and_refused_environment_get_422(backend: Backend) {
    let env = Env::new(backend).await;
    let good = renew_body("1000000500000001", now_ms());
    let mut unknown = good.clone();
    unknown["bid"] = json!("com.unknown.app");
    let mut no_bid = good.clone();
    no_bid.as_object_mut().unwrap().remove("bid");
    let mut sandbox_only = good.clone();
    sandbox_only["bid"] = json!(SANDBOX_ONLY);
    sandbox_only["password"] = json!(OTHER_SECRET);
    let mut unknown_env = good.clone();
    unknown_env["environment"] = json!("Production");
    let mut mismatch = good.clone();
    mismatch["unified_receipt"]["environment"] = json!("Sandbox");
    for (body, reason) in [
        (
            &unknown,
            "INVALID_APP_IDENTIFIER: app identifier mismatch: bid \"com.unknown.app\" is not a configured app",
        ),
        (
            &no_bid,
            "INVALID_APP_IDENTIFIER: app identifier mismatch: bid is missing",
        ),
        (
            &sandbox_only,
            "INVALID_ENVIRONMENT: environment mismatch: \"com.example.sandboxonly\" does not accept Production notifications",
        ),
        (
            &unknown_env,
            "INVALID_ENVIRONMENT: environment mismatch: environment \"Production\" is not a V1 environment (PROD or Sandbox)",
        ),
        (
            &mismatch,
            "INVALID_ENVIRONMENT: environment mismatch: unified_receipt.environment \"Sandbox\" is not the notification's Production",
        ),
    ] {
        let (status, reply) = env.post(body).await;
        assert_eq!(status, 422, "{reply}");
        assert_eq!(reply["status"], "rejected");
        assert_eq!(reply["reason"], reason);
    }
    assert_eq!(env.db.count("notifications").await, 0);
    let quarantined = env
        .db
        .column("SELECT CAST(http_status AS TEXT) || ' ' || reason FROM rejected_notifications ORDER BY id")
        .await;
    assert_eq!(quarantined.len(), 5);
    assert!(
        quarantined.iter().all(|q| q.starts_with("422 INVALID_")),
        "{quarantined:?}"
    );
    env.assert_no_secret_stored(&[SECRET, OTHER_SECRET]).await;
    // The Sandbox-only app takes its Sandbox notifications.
    sandbox_only["environment"] = json!("Sandbox");
    sandbox_only["unified_receipt"]["environment"] = json!("Sandbox");
    assert_eq!(env.post(&sandbox_only).await.0, 200);
    env.finish().await;
}
on_both_stores!(unknown_app_and_refused_environment_get_422);

async fn missing_fields_and_mixed_types_do_not_panic(backend: Backend) {
    let env = Env::new(backend).await;
    let now = now_ms();
    // Numbers where strings are expected.
    let mut numbers = renew_body("1000000600000001", now);
    numbers["original_transaction_id"] = json!(1_000_000_600_000_001u64);
    let e = &mut numbers["unified_receipt"]["latest_receipt_info"][0];
    e["transaction_id"] = json!(10_000_006_000_000_012_u64);
    e["original_transaction_id"] = json!(1_000_000_600_000_001u64);
    e["purchase_date_ms"] = json!(now - DAY);
    e["expires_date_ms"] = json!(now + MONTH);
    e["quantity"] = json!(2);
    e["cancellation_reason"] = json!(1);
    e["web_order_line_item_id"] = json!(77);
    let p = &mut numbers["unified_receipt"]["pending_renewal_info"][0];
    p["original_transaction_id"] = json!(1_000_000_600_000_001u64);
    p["auto_renew_status"] = json!(0);
    p["is_in_billing_retry_period"] = json!(false);
    // And strings where numbers are expected.
    numbers["expiration_intent"] = json!("1");
    let (status, reply) = env.post(&numbers).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        env.row(
            "transactions",
            &[
                "original_transaction_id",
                "ms:purchase_date",
                "ms:expires_date",
                "quantity",
                "revocation_reason",
                "web_order_line_item_id"
            ],
            "transaction_id = '10000006000000012'"
        )
        .await,
        format!("1000000600000001|{}|{}|2|1|77", now - DAY, now + MONTH)
    );
    assert_eq!(
        env.row(
            "subscriptions",
            &[
                "auto_renew_status",
                "CASE WHEN is_in_billing_retry_period THEN 'yes' ELSE 'no' END",
                "expiration_intent",
                "status"
            ],
            "original_transaction_id = '1000000600000001'"
        )
        .await,
        "0|no|1|1"
    );

    // Optional fields missing: no unified_receipt at all; entries with only an id; no
    // original_transaction_id anywhere.
    let bare = json!({"notification_type": "CONSUMPTION_REQUEST", "password": SECRET,
                      "environment": "Sandbox", "bid": BUNDLE});
    let sparse = json!({"notification_type": "DID_RENEW", "password": SECRET,
        "environment": "PROD", "bid": BUNDLE,
        "unified_receipt": {"latest_receipt_info": [{"transaction_id": "1000000600000099"}, {}],
                            "pending_renewal_info": [{}, {"original_transaction_id": "1000000600000098"}]}});
    let nulls = json!({"notification_type": "DID_RENEW", "password": SECRET,
        "environment": "PROD", "bid": BUNDLE, "original_transaction_id": null, "auto_renew_status": "",
        "unified_receipt": {"latest_receipt_info": null, "pending_renewal_info": null, "environment": null}});
    for body in [&bare, &sparse, &nulls] {
        let (status, reply) = env.post(body).await;
        assert_eq!(status, 200, "{body}: {reply}");
    }
    assert_eq!(
        env.row(
            "notifications",
            &["transaction_id", "original_transaction_id"],
            "notification_type = 'CONSUMPTION_REQUEST'"
        )
        .await,
        "-|-"
    );
    // An entry without dates is dated by its arrival; a renewal without a purchase has no status.
    assert_eq!(
        env.row(
            "transactions",
            &[
                "ms:purchase_date",
                "CASE WHEN signed_date IS NOT NULL THEN 'dated' END"
            ],
            "transaction_id = '1000000600000099'"
        )
        .await,
        "-|dated"
    );
    assert_eq!(
        env.row(
            "subscriptions",
            &["status", "auto_renew_status"],
            "original_transaction_id = '1000000600000098'"
        )
        .await,
        "-|-"
    );

    // Shapes that are not Apple's: 422 with the field named, kept in quarantine.
    let base = renew_body("1000000600000002", now);
    let malformed: Vec<(Value, &str)> = vec![
        (
            json!({"unified_receipt": "x"}),
            "unified_receipt is a string, expected an object",
        ),
        (
            json!({"unified_receipt": {"latest_receipt_info": {"0": {}}}}),
            "unified_receipt.latest_receipt_info is an object, expected an array",
        ),
        (
            json!({"unified_receipt": {"latest_receipt_info": [[]]}}),
            "unified_receipt.latest_receipt_info[0] is an array, expected an object",
        ),
        (
            json!({"unified_receipt": {"latest_receipt_info": [{"purchase_date_ms": "soon"}]}}),
            "unified_receipt.latest_receipt_info[0].purchase_date_ms is not a whole number in range",
        ),
        (
            json!({"unified_receipt": {"latest_receipt_info": [{"expires_date_ms": "99999999999999999"}]}}),
            "between 1970 and 9999",
        ),
        (
            json!({"unified_receipt": {"pending_renewal_info": [{"auto_renew_status": "sometimes"}]}}),
            "is not a flag",
        ),
        (
            json!({"original_transaction_id": {"id": 1}}),
            "original_transaction_id is an object, expected a string",
        ),
        (
            json!({"expiration_intent": "99999999999"}),
            "expiration_intent is out of range for a code",
        ),
        (json!({"bvrs": "4\u{0}2"}), "NUL"),
    ];
    for (change, reason) in &malformed {
        let mut body = base.clone();
        merge(&mut body, change.clone());
        let (status, reply) = env.post(&body).await;
        assert_eq!(status, 422, "{change}: {reply}");
        let got = reply["reason"].as_str().unwrap();
        assert!(
            got.starts_with("VERIFICATION_FAILURE: V1 body does not match Apple's model: ")
                && got.contains(reason),
            "{change}: {got}"
        );
    }
    assert_eq!(
        env.db.count("rejected_notifications").await,
        malformed.len() as i64
    );
    assert_eq!(env.db.count("notifications").await, 4);
    env.assert_no_secret_stored(&[SECRET]).await;
    env.finish().await;
}
on_both_stores!(missing_fields_and_mixed_types_do_not_panic);

async fn oversized_arrays_are_capped(backend: Backend) {
    let env = Env::with(backend, |c| c.server.max_body_bytes = 4 * 1024 * 1024).await;
    let now = now_ms();
    let entries: Vec<Value> = (0..10_000u64)
        .map(|i| {
            json!({"transaction_id": format!("{}", 2_000_000_000_000_000u64 + i),
                   "original_transaction_id": format!("{}", 3_000_000_000_000_000u64 + i),
                   "purchase_date_ms": format!("{}", now - i as i64 * 1000),
                   "expires_date_ms": format!("{}", now + MONTH)})
        })
        .collect();
    let renewals: Vec<Value> = (0..10_000u64)
        .map(|i| pending(&format!("{}", 3_000_000_000_000_000u64 + i), json!({})))
        .collect();
    let body = v1_body(
        "DID_RENEW",
        "PROD",
        "3000000000000000",
        entries,
        renewals,
        json!({}),
    );
    let text = body.to_string();
    assert!(
        text.len() > 1_000_000 && text.len() < 4 * 1024 * 1024,
        "{}",
        text.len()
    );
    let (status, reply) = env.daemon.post(text).await;
    assert_eq!(status, 200, "{reply}");
    // The first 100 of each array are read; the whole body is kept.
    assert_eq!(env.db.count("transactions").await, 100);
    assert_eq!(env.db.count("subscriptions").await, 100);
    let kept = env
        .stored_json(
            "notifications",
            "payload",
            "notification_type = 'DID_RENEW'",
        )
        .await;
    assert_eq!(kept, without_password(&body));
    assert_eq!(
        env.row(
            "notifications",
            &["transaction_id"],
            "notification_type = 'DID_RENEW'"
        )
        .await,
        "2000000000000000"
    );
    // Still serving.
    assert_eq!(env.post(&renew_body("1000000700000001", now)).await.0, 200);
    env.finish().await;
}
on_both_stores!(oversized_arrays_are_capped);

async fn an_older_v1_state_never_overwrites_a_newer_one(backend: Backend) {
    let env = Env::new(backend).await;
    let now = now_ms();
    let original = "1000000800000001";
    let plain = entry(
        original,
        "10000008000000012",
        now - DAY,
        Some(now + MONTH),
        json!({}),
    );
    let mut refunded = plain.clone();
    merge(
        &mut refunded,
        json!({"cancellation_date_ms": (now - 60_000).to_string(), "cancellation_reason": "0"}),
    );
    let cancel = v1_body(
        "CANCEL",
        "PROD",
        original,
        vec![refunded.clone()],
        vec![pending(original, json!({"auto_renew_status": "0"}))],
        json!({}),
    );
    // An older notification, retried by Apple after the CANCEL arrived.
    let late = v1_body(
        "DID_CHANGE_RENEWAL_PREF",
        "PROD",
        original,
        vec![plain],
        vec![pending(
            original,
            json!({"auto_renew_product_id": "pro.yearly"}),
        )],
        json!({}),
    );
    assert_eq!(env.post(&cancel).await.0, 200);
    assert_eq!(env.post(&late).await.0, 200);
    let filter = format!("original_transaction_id = '{original}'");
    assert_eq!(
        env.row(
            "transactions",
            &["ms:revocation_date", "revocation_reason"],
            &filter
        )
        .await,
        format!("{}|0", now - 60_000)
    );
    assert_eq!(
        env.row(
            "subscriptions",
            &["status", "last_notification_type", "auto_renew_product_id"],
            &filter
        )
        .await,
        "5|CANCEL|pro.monthly"
    );
    // A genuinely newer purchase moves the state on.
    let resubscribe = v1_body(
        "INTERACTIVE_RENEWAL",
        "PROD",
        original,
        vec![
            entry(
                original,
                "10000008000000013",
                now - 1_000,
                Some(now + MONTH),
                json!({}),
            ),
            refunded,
        ],
        vec![pending(original, json!({}))],
        json!({}),
    );
    assert_eq!(env.post(&resubscribe).await.0, 200);
    assert_eq!(
        env.row(
            "subscriptions",
            &["status", "last_notification_type", "ms:signed_date"],
            &filter
        )
        .await,
        format!("1|INTERACTIVE_RENEWAL|{}", now - 1_000)
    );
    assert_eq!(env.db.count("notifications").await, 3);
    env.finish().await;
}
on_both_stores!(an_older_v1_state_never_overwrites_a_newer_one);

async fn a_v2_test_notification_still_works(backend: Backend) {
    let env = Env::new(backend).await;
    let mut test = notification(
        "TEST",
        None,
        &Sub {
            original_transaction_id: "1".into(),
            env: "Sandbox",
        },
        "1",
        now_ms(),
        None,
    );
    test["data"] = json!({"bundleId": BUNDLE, "appAppleId": APP_ID, "environment": "Sandbox"});
    let (status, reply) = env.daemon.post_signed(&test).await;
    assert_eq!(
        (status, reply["status"].as_str()),
        (200, Some("stored")),
        "{reply}"
    );
    let uuid = test["notificationUUID"].as_str().unwrap();
    assert_eq!(
        env.row(
            "notifications",
            &["notification_type", "version", "environment"],
            &format!("notification_uuid = '{uuid}'")
        )
        .await,
        "TEST|2.0|Sandbox"
    );
    // V1 and V2 side by side.
    assert_eq!(
        env.post(&renew_body("1000000900000001", now_ms())).await.0,
        200
    );
    assert_eq!(env.db.count("notifications").await, 2);
    env.finish().await;
}
on_both_stores!(a_v2_test_notification_still_works);

/// The secrets can come from the environment only (`ASND_APPS__0__V1_SHARED_SECRETS`), so they
/// need not sit in the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_from_the_environment() {
    let fixture = Fixture::new();
    let db = TestDb::new(Backend::Sqlite).await;
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:0"
tls_cert = "{}"
tls_key = "{}"
[database]
url = "{}"
[sources]
allow = {LOOPBACK}
[[apps]]
bundle_id = "{BUNDLE}"
environments = ["Sandbox"]
"#,
        fixture.tls_cert.display(),
        fixture.tls_key.display(),
        db.url
    );
    let config = Config::from_toml_str(
        &toml,
        [(
            "ASND_APPS__0__V1_SHARED_SECRETS".to_string(),
            format!("{SECRET},{ROTATED}"),
        )],
    )
    .unwrap();
    assert!(!format!("{config:?}").contains(SECRET));
    let daemon = Daemon::start(&config, &fixture.tls_cert_der).await;
    let mut body = renew_body("1000001000000001", now_ms());
    body["environment"] = json!("Sandbox");
    body["unified_receipt"]["environment"] = json!("Sandbox");
    body["password"] = json!(ROTATED);
    let (status, reply) = daemon.post(body.to_string()).await;
    assert_eq!(status, 200, "{reply}");
    body["password"] = json!("not-it");
    body["bvrs"] = json!("43");
    assert_eq!(daemon.post(body.to_string()).await.0, 403);
    daemon.server.shutdown().await;
    assert!(db.rows_containing(ROTATED).await.is_empty());
}
