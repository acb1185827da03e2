//! Nothing Apple signs is lost, misread or shadowed, on both stores: genuine values that no
//! database column can hold are stored (the representation rule), and data proved by another
//! root never changes or blocks Apple's.

#[macro_use]
mod common;

use common::*;
use serde_json::{Value, json};

/// The milliseconds of 10000-01-01, one past the last storable time.
const YEAR_10000: i64 = 253_402_300_800_000;

/// A verified notification whose every nested payload holds a NUL and a time or number out of
/// the databases' range is stored (200), byte for byte; the typed columns that cannot hold a value
/// are NULL, and the JSON keeps every value (NUL written `\u0000`).
async fn values_no_column_holds_are_stored(backend: Backend) {
    let env = Env::start(backend, LOOPBACK, |_| {}).await;
    let db = &env.db;
    let s = Sub::random("Sandbox");
    let signed = now_ms();
    let transaction = payloads::transaction(
        &s,
        "9000000000001",
        signed,
        json!({
            "productId": "pro\u{0}monthly",
            "expiresDate": i64::MAX,
            "purchaseDate": YEAR_10000,
            "revocationReason": 4_294_967_296i64,
            "quantity": 5_000_000_000i64,
            "note\u{0}key": "kept",
        }),
    );
    let renewal = payloads::renewal(
        &s,
        signed,
        json!({
            "autoRenewProductId": "x\u{0}y",
            "gracePeriodExpiresDate": -5,
            // Beyond 64 bits (serde_json writes it `1e20`).
            "renewalDate": 1e20,
        }),
    );
    let notification = json!({
        "notificationType": "DID_RENEW",
        "subtype": "BILLING\u{0}RECOVERY",
        "notificationUUID": uuid::Uuid::new_v4().to_string(),
        "version": "2.0",
        "signedDate": signed,
        "topLevelNote": "a\u{0}b",
        "data": {
            "appAppleId": APP_ID, "bundleId": BUNDLE, "environment": "Sandbox",
            "status": 4_294_967_296i64,
            "signedTransactionInfo": chain().sign(&transaction),
            "signedRenewalInfo": chain().sign(&renewal),
        }
    });
    let uuid = notification["notificationUUID"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"signedPayload": chain().sign(&notification)}).to_string();

    let (status, answer) = env.daemon.post(body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let stored = format!("FROM notifications WHERE notification_uuid = '{uuid}'");
    assert_eq!(
        db.bytes(&format!("SELECT raw_body {stored}")).await,
        body.as_bytes(),
        "raw_body keeps the exact bytes"
    );
    assert_eq!(db.text(&format!("SELECT subtype {stored}")).await, None);
    let payload = db
        .json(&format!("SELECT {} {stored}", db.t("payload")))
        .await
        .unwrap();
    assert_eq!(payload["subtype"], "BILLING\\u0000RECOVERY");
    assert_eq!(payload["topLevelNote"], "a\\u0000b");
    assert_eq!(
        payload["data"]["transactionInfo"]["productId"],
        "pro\\u0000monthly"
    );
    assert_eq!(payload["data"]["transactionInfo"]["note\\u0000key"], "kept");
    assert_eq!(payload["data"]["transactionInfo"]["expiresDate"], i64::MAX);
    assert_eq!(
        payload["data"]["renewalInfo"]["autoRenewProductId"],
        "x\\u0000y"
    );

    let t = db
        .row(&format!(
            "SELECT product_id, {}, {}, {}, {}, {} FROM transactions
             WHERE transaction_id = '9000000000001'",
            db.t("expires_date"),
            db.t("purchase_date"),
            db.t("revocation_reason"),
            db.t("quantity"),
            millis_sql(backend, "signed_date"),
        ))
        .await;
    let [
        product,
        expires,
        purchase,
        revocation_reason,
        quantity,
        signed_date,
    ] = &t[..]
    else {
        panic!("{t:?}")
    };
    assert_eq!(
        (product, expires, purchase, revocation_reason),
        (&None, &None, &None, &None)
    );
    assert_eq!(quantity.as_deref(), Some("5000000000"), "a BIGINT holds it");
    assert_eq!(signed_date.as_deref(), Some(signed.to_string().as_str()));
    let transaction_json = db
        .json(&format!(
            "SELECT {} FROM transactions WHERE transaction_id = '9000000000001'",
            db.t("payload")
        ))
        .await
        .unwrap();
    assert_eq!(transaction_json["productId"], "pro\\u0000monthly");

    let sub = db
        .row(&format!(
            "SELECT {}, auto_renew_product_id, {}, {} FROM subscriptions
             WHERE original_transaction_id = '{}'",
            db.t("status"),
            db.t("grace_period_expires_date"),
            db.t("expires_date"),
            s.original_transaction_id
        ))
        .await;
    assert_eq!(
        sub,
        vec![None, None, None, None],
        "status, product, grace, expires"
    );
    let renewal_json = db
        .json(&format!(
            "SELECT {} FROM subscriptions WHERE original_transaction_id = '{}'",
            db.t("renewal_info"),
            s.original_transaction_id
        ))
        .await
        .unwrap();
    assert_eq!(renewal_json["autoRenewProductId"], "x\\u0000y");
    assert!(
        renewal_json["renewalDate"].as_f64().unwrap() > 9.9e19,
        "a number beyond 64 bits is kept as a number: {renewal_json}"
    );

    // Delivered again: a duplicate, nothing changes.
    let (status, _) = env.daemon.post(body).await;
    assert_eq!(status, 200);
    assert_eq!(db.count("notifications").await, 1);
    assert_eq!(db.count("rejected_notifications").await, 0);
    env.finish().await;
}
on_both_stores!(values_no_column_holds_are_stored);

/// A NUL in the UUID (a column a row cannot lack) is written `\u0000`, the same way on a retry.
async fn nul_in_an_id_is_escaped(backend: Backend) {
    let env = Env::start(backend, LOOPBACK, |_| {}).await;
    let s = Sub::random("Sandbox");
    let mut n = notification("DID_RENEW", None, &s, "\u{0}t1", now_ms(), Some(1));
    n["notificationUUID"] = json!("nul\u{0}uuid");
    let body = json!({"signedPayload": chain().sign(&n)}).to_string();
    for _ in 0..2 {
        let (status, answer) = env.daemon.post(body.clone()).await;
        assert_eq!(status, 200, "{answer}");
    }
    let db = &env.db;
    assert_eq!(
        db.column("SELECT notification_uuid FROM notifications")
            .await,
        vec!["nul\\u0000uuid"]
    );
    assert_eq!(
        db.column("SELECT transaction_id FROM transactions").await,
        vec!["\\u0000t1"]
    );
    assert_eq!(
        db.column("SELECT transaction_id FROM notifications").await,
        vec!["NULL"],
        "an optional copy of the id is NULL"
    );
    env.finish().await;
}
on_both_stores!(nul_in_an_id_is_escaped);

/// The real Apple notification's transaction, and `uuid`, claimed by data the development root
/// signed, with a later `signedDate`.
fn impostor(uuid: &str, signed_date: i64, product_id: &str) -> String {
    let real = asnd::apple::jws::peek_payload(APPLE_REAL.trim()).unwrap();
    let real_transaction =
        asnd::apple::jws::peek_payload(real["data"]["signedTransactionInfo"].as_str().unwrap())
            .unwrap();
    let mut transaction = Value::Object(real_transaction);
    transaction["signedDate"] = json!(signed_date);
    transaction["productId"] = json!(product_id);
    let mut notification = Value::Object(real);
    notification["signedDate"] = json!(signed_date);
    notification["notificationUUID"] = json!(uuid);
    notification["data"]["signedTransactionInfo"] = json!(chain().sign(&transaction));
    json!({"signedPayload": chain().sign(&notification)}).to_string()
}

/// Data another root proved never makes Apple's a duplicate and never changes a row Apple's data
/// made; Apple's data replaces another root's row, whatever the dates.
async fn another_root_never_shadows_apple(backend: Backend) {
    let env = Env::trusting_apple_and_dev(backend).await;
    let db = &env.db;
    let real_uuid = "cbff6987-b8d9-43d8-b1dc-07fa8c9fd945";
    let transaction = "FROM transactions WHERE transaction_id = '510001261072921'";

    // The impostor comes first, with Apple's UUID and a later date: stored, under its own root.
    let (status, answer) = env
        .daemon
        .post(impostor(real_uuid, now_ms(), "fake.product"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        db.text(&format!("SELECT product_id {transaction}"))
            .await
            .as_deref(),
        Some("fake.product")
    );

    // Apple's notification is stored (not a duplicate) and its transaction wins.
    let real_body = format!("{{\"signedPayload\":\"{}\"}}", APPLE_REAL.trim());
    let (status, answer) = env.daemon.post(real_body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "stored", "{answer}");
    let roots = db
        .column(&format!(
            "SELECT verified_by FROM notifications WHERE notification_uuid = '{real_uuid}'
             ORDER BY verified_by"
        ))
        .await;
    assert_eq!(roots.len(), 2, "{roots:?}");
    assert_eq!(roots[0], "apple-root-ca-g3");
    assert!(roots[1].starts_with("sha256:"), "{roots:?}");
    let apple_row = db
        .row(&format!("SELECT product_id, verified_by {transaction}"))
        .await;
    assert_eq!(
        apple_row,
        vec![
            Some("com.keysns.JR1200".to_string()),
            Some("apple-root-ca-g3".to_string())
        ]
    );

    // A later impostor changes nothing Apple made; Apple's again is a duplicate.
    let later = impostor(&uuid::Uuid::new_v4().to_string(), now_ms() + 1, "faker");
    let (status, answer) = env.daemon.post(later).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        db.row(&format!("SELECT product_id, verified_by {transaction}"))
            .await,
        apple_row
    );
    let (status, answer) = env.daemon.post(real_body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "duplicate", "{answer}");
    assert_eq!(db.count("notifications").await, 3);
    env.finish().await;
}
on_both_stores!(another_root_never_shadows_apple);

// ---- the quarantine: replayable, bounded ----

const OTHER_BUNDLE: &str = "com.example.other";

/// A signed `DID_RENEW` of `bundle` (its nested payloads of the same app): the UUID and body.
fn renewal_of(bundle: &str) -> (String, String) {
    let s = Sub::random("Sandbox");
    let signed = now_ms();
    let app = json!({"bundleId": bundle});
    let mut n = notification("DID_RENEW", None, &s, "7100000001", signed, Some(1));
    n["data"]["bundleId"] = json!(bundle);
    n["data"]["signedTransactionInfo"] = json!(chain().sign(&payloads::transaction(
        &s,
        "7100000001",
        signed,
        app.clone()
    )));
    n["data"]["signedRenewalInfo"] = json!(chain().sign(&payloads::renewal(&s, signed, app)));
    let uuid = n["notificationUUID"].as_str().unwrap().to_string();
    (uuid, json!({"signedPayload": chain().sign(&n)}).to_string())
}

/// `asnd reprocess` with the configuration `file`; its exit code and stdout.
fn reprocess(file: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = asnd()
        .arg("reprocess")
        .arg("--config")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&out);
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

/// What an app the configuration lacked sent is refused; once the app is added, `reprocess`
/// stores it exactly once (while `serve` runs), marks the row, and a rerun changes nothing.
async fn reprocess_stores_what_a_config_fix_makes_valid(backend: Backend) {
    let env = Env::start(backend, LOOPBACK, |_| {}).await;
    let db = &env.db;
    let (uuid, body) = renewal_of(OTHER_BUNDLE);
    let (status, answer) = env.daemon.post(body.clone()).await;
    assert_eq!(status, 422, "{answer}");
    let (status, _) = env.daemon.post("{\"not\": \"a notification\"}").await;
    assert_eq!(status, 400);
    assert_eq!(db.count("rejected_notifications").await, 2);

    let fixed = env.fixture.dir.path().join("fixed.toml");
    let other_app =
        format!("[[apps]]\nbundle_id = \"{OTHER_BUNDLE}\"\nenvironments = [\"Sandbox\"]\n");
    std::fs::write(&fixed, env.fixture.toml(&db.url, LOOPBACK, &other_app)).unwrap();

    let (code, out) = reprocess(&fixed, &["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("would be stored: 1\n") && out.contains("still refused: 1\n"),
        "{out}"
    );
    assert_eq!(
        db.count("notifications").await,
        0,
        "a dry run stores nothing"
    );

    let (code, out) = reprocess(&fixed, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("stored: 1\n") && out.contains("still refused: 1\n"),
        "{out}"
    );
    let source = db
        .text(&format!(
            "SELECT source_address FROM notifications WHERE notification_uuid = '{uuid}'"
        ))
        .await;
    assert_eq!(source.as_deref(), Some("reprocessed:127.0.0.1"));
    assert_eq!(
        db.bytes(&format!(
            "SELECT raw_body FROM notifications WHERE notification_uuid = '{uuid}'"
        ))
        .await,
        body.as_bytes()
    );
    let marks = db
        .column("SELECT reprocess_result FROM rejected_notifications ORDER BY id")
        .await;
    assert_eq!(marks[0], "stored");
    assert!(marks[1].starts_with("bad_request: "), "{marks:?}");
    let before = db
        .column(&format!(
            "SELECT {} FROM rejected_notifications ORDER BY id",
            db.t("reprocessed_at")
        ))
        .await;

    // A rerun: nothing new, nothing changed.
    let (code, out) = reprocess(&fixed, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("stored: 0\n") && out.contains("duplicate: 0\n"),
        "{out}"
    );
    assert!(out.contains("still refused: 1\n"), "{out}");
    assert_eq!(db.count("notifications").await, 1);
    let after = db
        .column(&format!(
            "SELECT {} FROM rejected_notifications ORDER BY id",
            db.t("reprocessed_at")
        ))
        .await;
    assert_eq!(before, after);
    // Filters: a reason prefix that matches nothing does nothing.
    let (code, out) = reprocess(&fixed, &["--reason", "NO_SUCH_REASON", "--since", "1h"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("still refused: 0\n"), "{out}");
    env.finish().await;
}
on_both_stores!(reprocess_stores_what_a_config_fix_makes_valid);

/// A flood of bad bodies from an allowed source keeps the quarantine within `max_rows`, cuts
/// long bodies to `max_body_bytes`, counts both, and valid notifications keep getting 200.
async fn quarantine_stays_bounded_under_a_flood(backend: Backend) {
    let env = Env::start(backend, LOOPBACK, |config| {
        config.quarantine.max_rows = 25;
        config.quarantine.max_body_bytes = 64;
        config.admin.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let db = &env.db;
    let mut floods = Vec::new();
    let mut valid = Vec::new();
    for i in 0..300 {
        floods.push(env.daemon.spawn_post(format!(
            "{{\"bad\": {i}, \"pad\": \"{}\"}}",
            "x".repeat(200)
        )));
        if i % 30 == 0 {
            let (uuid, body) = signed_renewal();
            valid.push((uuid, env.daemon.spawn_post(body)));
        }
    }
    for flood in floods {
        assert_eq!(flood.await.unwrap(), 400);
    }
    for (uuid, post) in valid {
        assert_eq!(post.await.unwrap(), 200, "{uuid}");
    }
    let rows = db.count("rejected_notifications").await;
    assert!((1..=25).contains(&rows), "{rows} rows");
    assert_eq!(db.count("notifications").await, 10);
    let lengths = db
        .row(&format!(
            "SELECT {}, {} FROM rejected_notifications ORDER BY id DESC LIMIT 1",
            db.t("length(raw_body)"),
            db.t("body_length")
        ))
        .await;
    assert_eq!(lengths[0].as_deref(), Some("64"));
    assert!(lengths[1].as_deref().unwrap().parse::<i64>().unwrap() > 200);

    let admin = env.daemon.server.admin_addr().unwrap();
    let metrics = fetch_text(&format!("http://{admin}/metrics")).await;
    assert!(
        metrics.contains("asnd_quarantine_trimmed_total{what=\"cut\"} 300"),
        "{metrics}"
    );
    let dropped = metrics
        .lines()
        .find_map(|l| l.strip_prefix("asnd_quarantine_trimmed_total{what=\"dropped\"} "))
        .unwrap();
    assert_eq!(dropped.parse::<i64>().unwrap(), 300 - rows);
    env.finish().await;
}
on_both_stores!(quarantine_stays_bounded_under_a_flood);

/// The README's `[quarantine]` block is valid configuration and shows the defaults.
#[test]
fn the_readme_quarantine_block_is_the_defaults() {
    let block = code_blocks(include_str!("../README.md"), "toml")
        .into_iter()
        .find(|b| b.starts_with("[quarantine]"))
        .expect("a [quarantine] block in the README");
    let config = asnd::config::Config::from_toml_str(block, Vec::new()).unwrap();
    assert_eq!(config.quarantine, asnd::config::QuarantineConfig::default());
}

/// `asnd verify` agrees with Apple's libraries byte for byte: the real Apple notification
/// verifies as it is, and is refused (VERIFICATION_FAILURE, exit 1) with white space after it or
/// `=` padding on its signature, in a file or inside a `signedPayload` body.
#[test]
fn verify_refuses_white_space_and_padding_like_apples_libraries() {
    let dir = tempfile::tempdir().unwrap();
    let token = APPLE_REAL.trim();
    let run = |name: &str, content: String| {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        let out = asnd().arg("verify").arg(&file).output().unwrap();
        let (_, stderr) = output_text(&out);
        (out.status.code(), stderr)
    };
    assert_eq!(run("plain", token.to_string()).0, Some(0));
    for (name, content) in [
        ("newline", format!("{token}\n")),
        ("space", format!(" {token}")),
        ("nbsp", format!("{token}\u{a0}")),
        ("padded", format!("{token}==")),
        ("body", format!("{{\"signedPayload\": \"{token}\\t\"}}")),
    ] {
        let (code, stderr) = run(name, content);
        assert_eq!(code, Some(1), "{name}: {stderr}");
        assert!(
            stderr.starts_with("VERIFICATION_FAILURE"),
            "{name}: {stderr}"
        );
    }
}

/// `asnd verify` with the default `--kind notification` refuses a transaction, saying what to
/// pass; with `--kind transaction` the same file verifies.
#[test]
fn verify_refuses_a_transaction_as_a_notification() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/apple-real/transaction_Sandbox_0cd9c84b20fde20a.jws"
    );
    let out = asnd().args(["verify", file]).output().unwrap();
    let (_, stderr) = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("VERIFICATION_FAILURE") && stderr.contains("--kind transaction"),
        "{stderr}"
    );
    let out = asnd()
        .args(["verify", "--kind", "transaction", file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out).1);
}

/// `asnd reprocess` with a bad option is a usage error (2) that names it; with its database
/// unreachable, a failure to retry (1), with the password kept out of the message.
#[test]
fn reprocess_says_what_is_wrong() {
    let fixture = Fixture::new();
    let file = fixture.unreachable_database_file();
    let (code, out) = reprocess(&file, &["--since", "last tuesday"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--since"), "{out}");
    let (code, out) = reprocess(&file, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("run it again") && !out.contains("hunter2"),
        "{out}"
    );
    assert!(!out.contains("panicked"), "{out}");
}
