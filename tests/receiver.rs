//! The receiver end to end: the real daemon over real TLS, a real HTTPS client, a real database
//! (SQLite file and PostgreSQL), asserting on status codes AND rows. Each scenario runs on both.

#[macro_use]
mod common;

use common::*;
use serde_json::{Value, json};

/// Every type and subtype of the simulator's catalogue with a `data` container, and a type Apple
/// may add next year.
fn data_types() -> Vec<(&'static str, Option<&'static str>)> {
    let mut types: Vec<_> = data_kinds()
        .into_iter()
        .map(|k| (k.notification_type, k.subtype))
        .collect();
    assert_eq!(types.len(), 34, "the catalogue's data-container types");
    types.extend([
        ("A_TYPE_APPLE_ADDS_NEXT_YEAR", Some("AND_ITS_NEW_SUBTYPE")),
        ("A_TYPE_APPLE_ADDS_NEXT_YEAR", None),
    ]);
    types
}

async fn loopback(backend: Backend) -> Env {
    Env::start(backend, LOOPBACK, |_| {}).await
}

async fn every_type_and_container_is_stored(backend: Backend) {
    let env = loopback(backend).await;
    let mut expected = 0;
    for (kind, subtype) in data_types() {
        let s = Sub::random("Sandbox");
        let txn_id = format!("{}", 2_000_000_000_000u64 + rand_u32() as u64);
        let mut n = notification(kind, subtype, &s, &txn_id, now_ms(), Some(1));
        if kind == "TEST" {
            n["data"] = json!({"bundleId": BUNDLE, "appAppleId": APP_ID, "environment": "Sandbox"});
        }
        if kind == "ONE_TIME_CHARGE" {
            let t = transaction(
                &s,
                &txn_id,
                now_ms(),
                json!({"type": "Consumable", "productId": "coins.100"}),
            );
            n["data"] = json!({"bundleId": BUNDLE, "appAppleId": APP_ID, "environment": "Sandbox",
                                   "signedTransactionInfo": chain().sign(&t)});
        }
        if kind == "CONSUMPTION_REQUEST" {
            n["data"]["consumptionRequestReason"] = json!("UNINTENDED_PURCHASE");
        }
        let uuid = n["notificationUUID"].as_str().unwrap().to_string();
        let (status, body) = env.daemon.post_signed(&n).await;
        assert_eq!(status, 200, "{kind} {subtype:?}: {body}");
        assert_eq!(body["status"], "stored");
        expected += 1;
        let row = env
                .db
                .column(&format!(
                    "SELECT notification_type || '|' || COALESCE(subtype, '-') || '|' || environment || '|' || bundle_id \
                     || '|' || CAST(app_apple_id AS TEXT) || '|' || COALESCE(transaction_id, '-') || '|' \
                     || COALESCE(original_transaction_id, '-') || '|' || version || '|' || source_address \
                     FROM notifications WHERE notification_uuid = '{uuid}'"
                ))
                .await;
        let (want_txn, want_orig) = if kind == "TEST" {
            ("-".to_string(), "-".to_string())
        } else {
            (txn_id.clone(), s.original_transaction_id.clone())
        };
        assert_eq!(
            row,
            vec![format!(
                "{kind}|{}|Sandbox|{BUNDLE}|{APP_ID}|{want_txn}|{want_orig}|2.0|127.0.0.1",
                subtype.unwrap_or("-")
            )]
        );
        if kind == "ONE_TIME_CHARGE" {
            let product = env
                .db
                .one(&format!(
                    "SELECT product_type FROM transactions WHERE transaction_id = '{txn_id}'"
                ))
                .await;
            assert_eq!(product, "Consumable");
        }
    }

    // The containers other than `data`.
    let summary = json!({"notificationType": "RENEWAL_EXTENSION", "subtype": "SUMMARY",
        "notificationUUID": uuid::Uuid::new_v4().to_string(), "version": "2.0", "signedDate": now_ms(),
        "summary": {"environment": "Production", "appAppleId": APP_ID, "bundleId": BUNDLE, "productId": "pro.monthly",
                    "requestIdentifier": "5f1c0d1e-1111-2222-3333-444455556666", "storefrontCountryCodes": ["USA", "FRA"],
                    "succeededCount": 12, "failedCount": 1}});
    for subtype in subtypes_of("EXTERNAL_PURCHASE_TOKEN").iter().flatten() {
        let token = json!({"notificationType": "EXTERNAL_PURCHASE_TOKEN", "subtype": subtype,
            "notificationUUID": uuid::Uuid::new_v4().to_string(), "version": "2.0", "signedDate": now_ms(),
            "externalPurchaseToken": {"externalPurchaseId": format!("SANDBOX_{}", rand_u32()), "tokenCreationDate": now_ms(),
                                      "appAppleId": APP_ID, "bundleId": BUNDLE, "tokenType": "ACQUISITION"}});
        let (status, body) = env.daemon.post_signed(&token).await;
        assert_eq!(status, 200, "{body}");
        expected += 1;
        let uuid = token["notificationUUID"].as_str().unwrap();
        let got = env
            .db
            .one(&format!(
                "SELECT environment FROM notifications WHERE notification_uuid = '{uuid}'"
            ))
            .await;
        assert_eq!(got, "Sandbox");
    }
    let app_txn = json!({"receiptType": "Sandbox", "appAppleId": APP_ID, "bundleId": BUNDLE, "applicationVersion": "42",
        "receiptCreationDate": now_ms(), "originalPurchaseDate": now_ms() - 1000, "originalApplicationVersion": "1",
        "appTransactionId": "704000000000000001", "originalPlatform": "iOS"});
    let rescind = json!({"notificationType": "RESCIND_CONSENT", "notificationUUID": uuid::Uuid::new_v4().to_string(),
        "version": "2.0", "signedDate": now_ms(),
        "appData": {"appAppleId": APP_ID, "bundleId": BUNDLE, "environment": "Sandbox",
                    "signedAppTransactionInfo": chain().sign(&app_txn)}});
    for n in [&summary, &rescind] {
        let (status, body) = env.daemon.post_signed(n).await;
        assert_eq!(status, 200, "{body}");
        expected += 1;
        let uuid = n["notificationUUID"].as_str().unwrap();
        let got = env.db.one(&format!("SELECT bundle_id || '|' || environment FROM notifications WHERE notification_uuid = '{uuid}'")).await;
        assert_eq!(
            got,
            format!(
                "{BUNDLE}|{}",
                if n == &summary {
                    "Production"
                } else {
                    "Sandbox"
                }
            )
        );
    }
    assert_eq!(env.db.count("notifications").await, expected);
    assert_eq!(env.db.count("rejected_notifications").await, 0);
    env.finish().await;
}
on_both_stores!(every_type_and_container_is_stored);

async fn columns_raw_body_and_decoded_payload(backend: Backend) {
    let env = loopback(backend).await;
    let s = Sub::random("Production");
    let signed = 1_764_000_000_000i64.max(now_ms() - 1000);
    let n = notification("DID_RENEW", None, &s, "2000000000000777", signed, Some(1));
    let uuid = n["notificationUUID"].as_str().unwrap().to_string();
    let body = json!({"signedPayload": chain().sign(&n)}).to_string();
    let (status, _) = env.daemon.post(body.clone()).await;
    assert_eq!(status, 200);
    // raw_body is the exact bytes received; payload has the nested payloads decoded.
    let raw = env
        .db
        .one(&format!(
            "SELECT CAST(raw_body AS TEXT) FROM notifications WHERE notification_uuid = '{uuid}'"
        ))
        .await;
    let raw = if backend == Backend::Postgres {
        decode_pg_bytea_text(&raw)
    } else {
        raw
    };
    assert_eq!(raw, body);
    let price = match backend {
        Backend::Postgres => env.db.one(&format!("SELECT payload->'data'->'transactionInfo'->>'price' FROM notifications WHERE notification_uuid = '{uuid}'")).await,
        Backend::Sqlite => env.db.one(&format!("SELECT CAST(json_extract(payload, '$.data.transactionInfo.price') AS TEXT) FROM notifications WHERE notification_uuid = '{uuid}'")).await,
    };
    assert_eq!(price, "9990");
    let verified_by = env
        .db
        .one(&format!(
            "SELECT verified_by FROM notifications WHERE notification_uuid = '{uuid}'"
        ))
        .await;
    assert!(verified_by.starts_with("sha256:"), "{verified_by}");
    let txn = env
        .db
        .one("SELECT original_transaction_id || '|' || product_id || '|' || product_type || '|' || environment || '|' || app_account_token || '|' || currency FROM transactions WHERE transaction_id = '2000000000000777'")
        .await;
    assert_eq!(
        txn,
        format!(
            "{}|pro.monthly|Auto-Renewable Subscription|Production|7e3fb20b-4cdb-47cc-936d-99d65f608138|USD",
            s.original_transaction_id
        )
    );
    let subscription = env
        .db
        .one(&format!("SELECT CAST(status AS TEXT) || '|' || product_id || '|' || CAST(auto_renew_status AS TEXT) || '|' || last_notification_type FROM subscriptions WHERE original_transaction_id = '{}'", s.original_transaction_id))
        .await;
    assert_eq!(subscription, "1|pro.monthly|1|DID_RENEW");
    env.finish().await;
}
on_both_stores!(columns_raw_body_and_decoded_payload);

/// `CAST(bytea AS TEXT)` gives `\x…` hex in PostgreSQL.
fn decode_pg_bytea_text(s: &str) -> String {
    let hex = s.trim_start_matches("\\x");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

async fn same_notification_twenty_times_concurrently(backend: Backend) {
    let env = loopback(backend).await;
    let n = notification(
        "SUBSCRIBED",
        Some("INITIAL_BUY"),
        &Sub::random("Sandbox"),
        "2000000000000001",
        now_ms(),
        Some(1),
    );
    let body = json!({"signedPayload": chain().sign(&n)}).to_string();
    let tasks: Vec<_> = (0..20)
        .map(|_| env.daemon.spawn_post(body.clone()))
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(env.db.count("notifications").await, 1);
    assert_eq!(env.db.count("transactions").await, 1);
    // Later retries are duplicates too.
    let (status, reply) = env.daemon.post(body).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(env.db.count("notifications").await, 1);
    env.finish().await;
}
on_both_stores!(same_notification_twenty_times_concurrently);

async fn newer_expired_then_older_renew_stays_expired(backend: Backend) {
    let env = loopback(backend).await;
    let s = Sub::random("Sandbox");
    let t0 = now_ms() - 60_000;
    let mut expired = notification(
        "EXPIRED",
        Some("VOLUNTARY"),
        &s,
        "2000000000000010",
        t0 + 30_000,
        Some(2),
    );
    expired["data"]["signedRenewalInfo"] = json!(chain().sign(&renewal(
        &s,
        t0 + 30_000,
        json!({"autoRenewStatus": 0, "expirationIntent": 1})
    )));
    let renew = notification("DID_RENEW", None, &s, "2000000000000009", t0, Some(1));
    assert_eq!(env.daemon.post_signed(&expired).await.0, 200);
    assert_eq!(env.daemon.post_signed(&renew).await.0, 200);
    let state = env
        .db
        .one(&format!("SELECT CAST(status AS TEXT) || '|' || last_notification_type || '|' || CAST(auto_renew_status AS TEXT) FROM subscriptions WHERE original_transaction_id = '{}'", s.original_transaction_id))
        .await;
    assert_eq!(state, "2|EXPIRED|0");
    assert_eq!(
        env.db.count("notifications").await,
        2,
        "both events are kept"
    );
    // A genuinely newer event does move the state.
    let resub = notification(
        "SUBSCRIBED",
        Some("RESUBSCRIBE"),
        &s,
        "2000000000000011",
        t0 + 50_000,
        Some(1),
    );
    assert_eq!(env.daemon.post_signed(&resub).await.0, 200);
    let status = env
        .db
        .one(&format!(
            "SELECT CAST(status AS TEXT) FROM subscriptions WHERE original_transaction_id = '{}'",
            s.original_transaction_id
        ))
        .await;
    assert_eq!(status, "1");
    env.finish().await;
}
on_both_stores!(newer_expired_then_older_renew_stays_expired);

async fn each_rejection_answers_its_status_and_stores_no_event(backend: Backend) {
    let env = loopback(backend).await;
    let good = notification(
        "DID_RENEW",
        None,
        &Sub::random("Sandbox"),
        "2000000000000020",
        now_ms(),
        Some(1),
    );

    // 400: not a notification body.
    for (body, why) in [
        ("not json".to_string(), "not JSON"),
        ("[1,2,3]".into(), "not an object"),
        ("{}".into(), "neither V1 nor V2"),
        (
            json!({"signedPayload": 42}).to_string(),
            "signedPayload not a string",
        ),
        (
            json!({"signedPayload": "only.two"}).to_string(),
            "not a JWS",
        ),
        (
            json!({"signedPayload": "!!!.???.***"}).to_string(),
            "not base64url",
        ),
        (
            json!({"notification_type": 7, "password": "x"}).to_string(),
            "V1 notification_type not a string",
        ),
    ] {
        let (status, reply) = env.daemon.post(body).await;
        assert_eq!(status, 400, "{why}: {reply}");
        assert_eq!(reply["status"], "bad_request");
    }

    // 422: genuine-looking notifications that do not verify, each kept in quarantine.
    let forger = asnd::apple::devchain::DevChain::generate(&Default::default()).unwrap();
    let mut wrong_bundle = good.clone();
    wrong_bundle["data"]["bundleId"] = json!("com.other.app");
    let mut wrong_env = good.clone();
    wrong_env["data"]["environment"] = json!("Xcode");
    let mut forged_nested = good.clone();
    forged_nested["data"]["signedTransactionInfo"] = json!(forger.sign(&transaction(
        &Sub::random("Sandbox"),
        "1",
        now_ms(),
        json!({})
    )));
    let bodies = [
        (
            json!({"signedPayload": forger.sign(&good)}).to_string(),
            "VERIFICATION_FAILURE",
        ),
        (
            json!({"signedPayload": chain().sign(&wrong_bundle)}).to_string(),
            "INVALID_APP_IDENTIFIER",
        ),
        (
            json!({"signedPayload": chain().sign(&wrong_env)}).to_string(),
            "INVALID_ENVIRONMENT",
        ),
        (
            json!({"signedPayload": chain().sign(&forged_nested)}).to_string(),
            "VERIFICATION_FAILURE",
        ),
        (
            json!({"signedPayload": tamper(&chain().sign(&good))}).to_string(),
            "VERIFICATION_FAILURE",
        ),
    ];
    for (body, status_name) in &bodies {
        let (status, reply) = env.daemon.post(body.clone()).await;
        assert_eq!(status, 422, "{reply}");
        assert!(
            reply["reason"].as_str().unwrap().starts_with(status_name),
            "{reply}"
        );
    }
    assert_eq!(env.db.count("notifications").await, 0);
    assert_eq!(env.db.count("transactions").await, 0);
    assert_eq!(env.db.count("subscriptions").await, 0);
    let quarantined = env.db.column("SELECT CAST(http_status AS TEXT) || ' ' || reason FROM rejected_notifications ORDER BY id").await;
    assert_eq!(quarantined.len(), 7 + bodies.len());
    assert!(quarantined.iter().filter(|r| r.starts_with("422 ")).count() == bodies.len());
    assert!(
        quarantined
            .iter()
            .any(|r| r.starts_with("422 INVALID_APP_IDENTIFIER"))
    );
    let source = env
        .db
        .column("SELECT source_address FROM rejected_notifications")
        .await;
    assert!(source.iter().all(|s| s == "127.0.0.1"));

    // 413: too large, by declared length and by streamed length.
    let (status, _) = env
        .daemon
        .post(format!("{{\"signedPayload\":\"{}\"}}", "a".repeat(70_000)))
        .await;
    assert_eq!(status, 413);
    let chunks = futures_stream(70_000);
    let resp = env
        .daemon
        .client
        .post(env.daemon.url("/notifications"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);

    // Wrong method, unknown path.
    assert_eq!(env.daemon.get("/notifications").await, 405);
    let elsewhere = env.daemon.client.post(env.daemon.url("/elsewhere"));
    assert_eq!(status_of(elsewhere.body("{}")).await, 404);

    // After all that, a good notification still goes through.
    assert_eq!(env.daemon.post_signed(&good).await.0, 200);
    assert_eq!(env.db.count("notifications").await, 1);
    env.finish().await;
}
on_both_stores!(each_rejection_answers_its_status_and_stores_no_event);

/// What Apple's libraries refuse, `serve` refuses too (422, quarantined), however genuine the rest:
/// white space around the JWS inside `signedPayload`, `=` padding, an `x5c[2]` that is not a
/// certificate. The same notification, sent as Apple sends it, is then stored.
async fn encodings_apples_libraries_refuse_get_422(backend: Backend) {
    let env = loopback(backend).await;
    let good = notification(
        "DID_RENEW",
        None,
        &Sub::random("Sandbox"),
        "2000000000000031",
        now_ms(),
        Some(1),
    );
    let token = chain().sign(&good);
    let (head, signature) = token.rsplit_once('.').unwrap();
    let padded_signature = {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap();
        format!(
            "{head}.{}",
            base64::engine::general_purpose::URL_SAFE.encode(raw)
        )
    };
    assert!(padded_signature.ends_with('='));
    let garbage_third = {
        let mut x5c = chain().x5c();
        x5c[2] = "bm90IGEgY2VydA==".into();
        let header = json!({"alg": "ES256", "x5c": x5c}).to_string();
        chain().sign_raw(header.as_bytes(), good.to_string().as_bytes())
    };
    let mut refused = vec![padded_signature, garbage_third];
    for ws in [" ", "\t", "\n", "\r\n", "\u{0b}", "\u{a0}"] {
        refused.push(format!("{ws}{token}"));
        refused.push(format!("{token}{ws}"));
    }
    for jws in &refused {
        let (status, reply) = env
            .daemon
            .post(json!({ "signedPayload": jws }).to_string())
            .await;
        assert_eq!(status, 422, "{jws:?}: {reply}");
        let reason = reply["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("VERIFICATION_FAILURE") || reason.starts_with("INVALID_CERTIFICATE"),
            "{reason}"
        );
    }
    assert_eq!(env.db.count("notifications").await, 0);
    assert_eq!(
        env.db.count("rejected_notifications").await,
        refused.len() as i64
    );
    assert_eq!(env.daemon.post_signed(&good).await.0, 200);
    assert_eq!(env.db.count("notifications").await, 1);
    env.finish().await;
}
on_both_stores!(encodings_apples_libraries_refuse_get_422);

fn tamper(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1])
            .unwrap();
    let mut v: Value = serde_json::from_slice(&payload).unwrap();
    v["data"]["status"] = json!(5);
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        v.to_string(),
    );
    parts.join(".")
}

fn futures_stream(
    total: usize,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..total / 1000).map(|_| Ok(vec![b' '; 1000])).collect();
    tokio_stream_iter(chunks)
}

fn tokio_stream_iter<T: Send + Unpin + 'static>(
    items: Vec<T>,
) -> impl futures_core::Stream<Item = T> {
    struct Iter<T>(std::vec::IntoIter<T>);
    impl<T> futures_core::Stream for Iter<T>
    where
        T: Unpin,
    {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(items.into_iter())
}

async fn a_source_outside_the_allow_list_gets_403(backend: Backend) {
    let env = Env::start(backend, r#"["17.0.0.0/8"]"#, |_| {}).await;
    let n = notification(
        "DID_RENEW",
        None,
        &Sub::random("Sandbox"),
        "2000000000000030",
        now_ms(),
        Some(1),
    );
    let (status, reply) = env.daemon.post_signed(&n).await;
    assert_eq!(status, 403, "{reply}");
    assert_eq!(env.db.count("notifications").await, 0);
    assert_eq!(
        env.db.count("rejected_notifications").await,
        0,
        "403 is answered before the body is read"
    );
    // Health checks are not notifications: they answer anyone.
    assert_eq!(env.daemon.get("/healthz").await, 200);
    assert_eq!(env.daemon.get("/readyz").await, 200);
    env.finish().await;
}
on_both_stores!(a_source_outside_the_allow_list_gets_403);

async fn readyz_reports_database_and_draining(backend: Backend) {
    let env = loopback(backend).await;
    assert_eq!(env.daemon.get("/readyz").await, 200);
    env.daemon.server.start_draining();
    assert_eq!(env.daemon.get("/readyz").await, 503);
    env.finish().await;
}
on_both_stores!(readyz_reports_database_and_draining);
