//! `asnd dev-ca` and `asnd simulate`: every simulated type verifies against the development root
//! and never against Apple's; each scenario, sent to the real daemon over real TLS, leaves the
//! expected subscription state in SQLite and PostgreSQL; `verified_by` tells simulated data from
//! Apple's; the CA round-trips through its files; `--out` and the load mode work; and
//! `serve --dev` + `simulate --dev` work end to end as an operator runs them.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use asnd::apple::models::Environment;
use asnd::apple::{AppRule, At, Policy, RootSet, TrustAnchor, Verifier};
use asnd::config::{AppConfig, BUILTIN_APPLE_ROOT, Config};
use asnd::devca;
use asnd::simulate::{Event, Generator, Kind, Scenario, Target, V1_TYPES};
use common::*;
use serde_json::Value;

const APPLE_REAL: &str =
    include_str!("fixtures/apple-real/notification_Production_da2c238f98534d21.jws");

/// `sha256:<fingerprint>` of the test chain's root: what simulated data must be stored with.
fn dev_label() -> String {
    TrustAnchor::from_der(&chain().root_der).unwrap().label()
}

fn target(environment: &str) -> Target {
    Target {
        environment: environment.into(),
        ..Target::default()
    }
}

fn policy(environment: &str) -> Policy {
    Policy::single(AppRule {
        bundle_id: Some(BUNDLE.into()),
        app_apple_id: Some(APP_ID),
        environments: vec![Environment::from(environment)],
    })
}

/// The `data.status` each type's notification must carry (`None`: not a subscription).
fn expected_status(kind: &Kind) -> Option<i64> {
    match (kind.notification_type, kind.subtype) {
        ("EXPIRED", _) => Some(2),
        ("DID_FAIL_TO_RENEW", Some("GRACE_PERIOD")) => Some(4),
        ("DID_FAIL_TO_RENEW", None) | ("GRACE_PERIOD_EXPIRED", _) => Some(3),
        ("REVOKE", _) => Some(5),
        (
            "CONSUMPTION_REQUEST"
            | "ONE_TIME_CHARGE"
            | "REFUND"
            | "REFUND_DECLINED"
            | "REFUND_REVERSED"
            | "TEST"
            | "EXTERNAL_PURCHASE_TOKEN"
            | "RESCIND_CONSENT",
            _,
        )
        | ("RENEWAL_EXTENSION", Some("SUMMARY")) => None,
        _ => Some(1),
    }
}

/// The decoded payload of a `{"signedPayload": ...}` body, verified against `verifier`.
fn verify_body(
    verifier: &Verifier,
    body: &str,
    environment: &str,
) -> Result<asnd::apple::VerifiedNotification, asnd::apple::VerifyError> {
    let body: Value = serde_json::from_str(body).unwrap();
    let token = body["signedPayload"].as_str().expect("a V2 body");
    verifier.verify_notification(token, &policy(environment), At::SignedDate)
}

#[test]
fn every_type_verifies_with_the_dev_root_and_not_with_apples() {
    let dev = Verifier::new(RootSet::new(
        RootSet::parse_file(&chain().root_der).unwrap(),
    ));
    let apple = Verifier::apple();
    assert_eq!(
        Kind::all().len(),
        39,
        "every notificationType and subtype Apple documents"
    );
    for environment in ["Sandbox", "Production"] {
        let target = target(environment);
        let mut generator = Generator::new(target.clone());
        for kind in Kind::all() {
            let label = format!("{} ({environment})", kind.label());
            let event = generator.single(kind, now_ms());
            let body = event.body(&target, Some(chain()), None).unwrap();
            let v = verify_body(&dev, &body, environment)
                .unwrap_or_else(|e| panic!("{label}: {}", e.report()));
            let n = &v.notification.json;
            assert_eq!(n["notificationType"], kind.notification_type, "{label}");
            assert_eq!(
                n.get("subtype").and_then(Value::as_str),
                kind.subtype,
                "{label}"
            );
            assert_eq!(n["version"], "2.0");
            assert_eq!(n["signedDate"], event.signed_date);
            assert_eq!(
                v.notification.value.container_name(),
                Some(container_of(&kind)),
                "{label}"
            );
            assert_eq!(v.notification.verified_by, dev_label(), "{label}");
            let status = n
                .get("data")
                .and_then(|d| d.get("status"))
                .and_then(Value::as_i64);
            assert_eq!(status, expected_status(&kind), "{label}");
            assert_eq!(status, event.status, "{label}");

            // Nested payloads: verified, and consistent with each other.
            if let Some(t) = &v.transaction {
                assert_eq!(v.notification.verified_by, t.verified_by);
                assert_eq!(t.json["environment"], environment, "{label}");
                assert_eq!(t.json["bundleId"], BUNDLE);
                assert_eq!(
                    t.json["originalTransactionId"].as_str(),
                    event.original_transaction_id.as_deref(),
                    "{label}"
                );
                assert!(t.json["price"].as_i64().unwrap() > 0, "{label}");
                if let Some(r) = &v.renewal {
                    assert_eq!(
                        r.json["originalTransactionId"],
                        t.json["originalTransactionId"]
                    );
                    assert_eq!(r.json["productId"], t.json["productId"], "{label}");
                    assert_eq!(r.json["environment"], environment);
                    assert_eq!(r.json["currency"], t.json["currency"]);
                    assert_eq!(r.json["renewalDate"], t.json["expiresDate"], "{label}");
                }
            }
            assert_eq!(
                v.renewal.is_some(),
                expected_status(&kind).is_some(),
                "{label}: renewal info exactly for subscriptions"
            );
            match (kind.notification_type, kind.subtype) {
                ("REFUND", _) => {
                    let t = &v.transaction.as_ref().unwrap().json;
                    assert!(t["revocationDate"].is_i64() && t["revocationReason"].is_i64());
                }
                ("REVOKE", _) => {
                    let t = &v.transaction.as_ref().unwrap().json;
                    assert_eq!(t["inAppOwnershipType"], "FAMILY_SHARED");
                    assert_eq!(t["revocationType"], "FAMILY_REVOKE");
                }
                ("OFFER_REDEEMED", Some("UPGRADE")) => {
                    let t = &v.transaction.as_ref().unwrap().json;
                    assert!(t["offerType"].is_i64() && t["offerIdentifier"].is_string());
                }
                ("OFFER_REDEEMED", _) => {
                    let r = &v.renewal.as_ref().unwrap().json;
                    assert!(r["offerType"].is_i64() && r["offerIdentifier"].is_string());
                }
                ("CONSUMPTION_REQUEST", _) => {
                    assert_eq!(n["data"]["consumptionRequestReason"], "UNINTENDED_PURCHASE");
                }
                ("RESCIND_CONSENT", _) => {
                    let a = &v.app_transaction.as_ref().unwrap().json;
                    assert_eq!(a["receiptType"], environment);
                }
                ("EXTERNAL_PURCHASE_TOKEN", _) => {
                    let id = n["externalPurchaseToken"]["externalPurchaseId"]
                        .as_str()
                        .unwrap();
                    assert_eq!(id.starts_with("SANDBOX"), environment == "Sandbox");
                }
                ("TEST", _) => assert!(v.transaction.is_none()),
                _ => {}
            }

            // Apple's root never accepts it.
            let err = verify_body(&apple, &body, environment)
                .err()
                .unwrap_or_else(|| panic!("{label}: accepted by Apple's root"));
            assert!(
                err.report().contains("chain"),
                "{label}: refused for its chain: {}",
                err.report()
            );
        }
    }
}

#[test]
fn v1_bodies_carry_the_secret_and_a_unified_receipt() {
    let target = target("Production");
    let mut generator = Generator::new(target.clone());
    for t in V1_TYPES {
        let event = generator.single_v1(t, now_ms());
        assert!(event.body(&target, None, None).is_err(), "needs the secret");
        let body: Value =
            serde_json::from_str(&event.body(&target, None, Some("s3cret")).unwrap()).unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys[..2], ["notification_type", "password"], "{t}");
        assert_eq!(body["notification_type"], *t);
        assert_eq!(body["password"], "s3cret");
        assert_eq!(body["environment"], "PROD");
        assert_eq!(body["bid"], BUNDLE);
        let receipt = &body["unified_receipt"];
        assert_eq!(receipt["environment"], "Production");
        assert_eq!(receipt["status"], 0);
        let latest = receipt["latest_receipt_info"].as_array().unwrap();
        assert!(!latest.is_empty(), "{t}");
        assert_eq!(
            latest[0]["original_transaction_id"].as_str(),
            event.original_transaction_id.as_deref()
        );
        assert_eq!(
            body["original_transaction_id"]
                .as_i64()
                .map(|n| n.to_string()),
            event.original_transaction_id
        );
        for entry in latest {
            for (k, v) in entry.as_object().unwrap() {
                assert!(v.is_string(), "{t}: latest_receipt_info.{k} is a string");
            }
        }
        let subscription = latest[0].get("expires_date_ms").is_some();
        assert_eq!(body.get("auto_renew_status").is_some(), subscription, "{t}");
        assert_eq!(
            receipt["pending_renewal_info"].as_array().unwrap().len(),
            usize::from(subscription),
            "{t}"
        );
        if ["CANCEL", "REFUND", "REVOKE"].contains(t) {
            assert!(latest[0]["cancellation_date_ms"].is_string(), "{t}");
        }
    }
}

/// The daemon's own V1 reader accepts every simulated V1 body with the secret, and refuses it
/// without.
#[test]
fn v1_bodies_pass_the_receivers_v1_checks() {
    use asnd::apple::v1::{V1App, V1Error, verify};
    let apps = [V1App::new(
        BUNDLE,
        &["Production".to_string(), "Sandbox".to_string()],
        &["s3cret".to_string()],
    )];
    for environment in ["Sandbox", "Production"] {
        let target = target(environment);
        let mut generator = Generator::new(target.clone());
        for t in V1_TYPES {
            let event = generator.single_v1(t, now_ms());
            let body = event.body(&target, None, Some("s3cret")).unwrap();
            let map: serde_json::Map<String, Value> = serde_json::from_str(&body).unwrap();
            let read = verify(&map, &apps).unwrap_or_else(|e| panic!("{t}: {}", e.report()));
            assert_eq!(read.notification_type, *t);
            assert_eq!(read.environment, Environment::from(environment));
            assert_eq!(
                read.original_transaction_id, event.original_transaction_id,
                "{t}"
            );
            assert_eq!(
                read.receipt[0].transaction_id, event.transaction_id,
                "{t}: the newest transaction comes first"
            );
            let wrong = event.body(&target, None, Some("other")).unwrap();
            let map: serde_json::Map<String, Value> = serde_json::from_str(&wrong).unwrap();
            assert!(
                matches!(verify(&map, &apps), Err(V1Error::Password(_))),
                "{t}"
            );
        }
    }
}

// ---- scenarios against the running daemon ----

/// A daemon trusting Apple's root AND the development root, with the app of the real Apple
/// notification configured beside the test app.
async fn daemon_trusting_both(backend: Backend) -> (Fixture, TestDb, Daemon) {
    let fixture = Fixture::new();
    let db = TestDb::new(backend).await;
    let mut config = fixture.config(&db.url, LOOPBACK);
    config.verify.roots = vec![PathBuf::from(BUILTIN_APPLE_ROOT), fixture.root.clone()];
    config.apps.push(AppConfig {
        bundle_id: "com.jrjj.keysns".into(),
        app_apple_id: Some(1_601_830_814),
        environments: vec![asnd::config::AppEnvironment::Production],
        ..AppConfig::default()
    });
    let daemon = Daemon::start(&config, &fixture.tls_cert_der).await;
    (fixture, db, daemon)
}

async fn send(daemon: &Daemon, events: &[Event], target: &Target) {
    for event in events {
        let body = event.body(target, Some(chain()), None).unwrap();
        let (status, answer) = daemon.post(body).await;
        assert_eq!(status, 200, "{}: {answer}", event.notice.label());
    }
}

/// `status|auto_renew_status|last_notification_type|last_subtype` of one subscription.
async fn state(db: &TestDb, original_transaction_id: &str) -> Option<String> {
    db.at_most_one(&format!(
        "SELECT CAST(status AS TEXT) || '|' || CAST(auto_renew_status AS TEXT) || '|' || \
         last_notification_type || '|' || COALESCE(last_subtype, '-') \
         FROM subscriptions WHERE original_transaction_id = '{original_transaction_id}'"
    ))
    .await
}

async fn scenarios_leave_the_expected_state(backend: Backend) {
    let (fixture, db, daemon) = daemon_trusting_both(backend).await;
    let target = Target::default();
    let mut generator = Generator::new(target.clone());

    let expectations = [
        (Scenario::Lifecycle, 6, Some("2|0|EXPIRED|VOLUNTARY")),
        (Scenario::Billing, 3, Some("1|1|DID_RENEW|BILLING_RECOVERY")),
        (Scenario::Refund, 3, None),
        (Scenario::Family, 2, Some("5|1|REVOKE|-")),
    ];
    for (scenario, count, expected) in expectations {
        let events = generator.scenario(scenario, now_ms());
        assert_eq!(events.len(), count, "{}", scenario.name());
        assert!(
            events
                .windows(2)
                .all(|w| w[0].signed_date < w[1].signed_date),
            "{}: signedDates increase",
            scenario.name()
        );
        send(&daemon, &events, &target).await;
        let otid = events[0].original_transaction_id.clone().unwrap();
        assert!(
            events
                .iter()
                .all(|e| e.original_transaction_id.as_deref() == Some(&otid))
        );
        assert_eq!(
            state(&db, &otid).await.as_deref(),
            expected,
            "{}",
            scenario.name()
        );
        let stored = db
            .column(&format!(
                "SELECT notification_type FROM notifications WHERE original_transaction_id = '{otid}' \
                 ORDER BY signed_date"
            ))
            .await;
        let sent: Vec<&str> = events
            .iter()
            .map(|e| e.notice.notification_type())
            .collect();
        assert_eq!(stored, sent, "{}", scenario.name());
    }

    // The lifecycle's subscription in detail: expired voluntarily, at the end of its 4th period.
    let lifecycle = db
        .column(
            "SELECT CAST(expiration_intent AS TEXT) || '|' || product_id FROM subscriptions \
             WHERE last_notification_type = 'EXPIRED'",
        )
        .await;
    assert_eq!(lifecycle, ["1|pro.monthly"]);
    // Billing recovered: no longer in billing retry.
    assert_eq!(
        db.column(
            "SELECT CASE WHEN is_in_billing_retry_period THEN 'retry' ELSE 'ok' END FROM subscriptions \
             WHERE last_subtype = 'BILLING_RECOVERY'"
        )
        .await,
        ["ok"]
    );
    // The refund was reversed: the newest transaction payload has no revocation.
    assert_eq!(
        db.column(
            "SELECT CASE WHEN revocation_date IS NULL THEN 'active' ELSE 'revoked' END FROM transactions \
             WHERE product_type = 'Non-Consumable'"
        )
        .await,
        ["active"]
    );

    // all-types: every notification stored; every subscription in the state its type implies.
    let events = generator.scenario(Scenario::AllTypes, now_ms());
    assert_eq!(events.len(), 39);
    send(&daemon, &events, &target).await;
    for event in &events {
        let kind = match event.notice {
            asnd::simulate::Notice::V2(k) => k,
            asnd::simulate::Notice::V1(_) => unreachable!(),
        };
        let stored = db
            .at_most_one(&format!(
                "SELECT notification_type || '|' || COALESCE(subtype, '-') FROM notifications \
                 WHERE notification_uuid = '{}'",
                event.uuid
            ))
            .await;
        assert_eq!(
            stored,
            Some(format!(
                "{}|{}",
                kind.notification_type,
                kind.subtype.unwrap_or("-")
            ))
        );
        if let (Some(status), Some(otid)) = (expected_status(&kind), &event.original_transaction_id)
        {
            let row = state(&db, otid).await.unwrap_or_default();
            assert!(
                row.starts_with(&format!("{status}|"))
                    && row.contains(&format!("|{}|", kind.notification_type)),
                "{}: {row}",
                kind.label()
            );
        }
    }
    assert_eq!(
        db.count("notifications").await,
        6 + 3 + 3 + 2 + 39,
        "nothing else stored"
    );
    assert_eq!(db.count("rejected_notifications").await, 0);
    daemon.server.shutdown().await;
    drop(fixture);
}
on_both_stores!(scenarios_leave_the_expected_state);

async fn verified_by_tells_simulated_from_apple(backend: Backend) {
    let (fixture, db, daemon) = daemon_trusting_both(backend).await;
    let target = Target::default();
    let event =
        Generator::new(target.clone()).single(Kind::parse("DID_RENEW", None).unwrap(), now_ms());
    send(&daemon, std::slice::from_ref(&event), &target).await;
    let (status, answer) = daemon
        .post(format!("{{\"signedPayload\":\"{}\"}}", APPLE_REAL.trim()))
        .await;
    assert_eq!(status, 200, "genuine Apple data: {answer}");

    let simulated = db
        .at_most_one(&format!(
            "SELECT verified_by FROM notifications WHERE notification_uuid = '{}'",
            event.uuid
        ))
        .await
        .unwrap();
    assert_eq!(simulated, dev_label());
    assert!(simulated.starts_with("sha256:") && simulated != "apple-root-ca-g3");
    let apple = db
        .at_most_one("SELECT verified_by FROM notifications WHERE bundle_id = 'com.jrjj.keysns'")
        .await
        .unwrap();
    assert_eq!(apple, "apple-root-ca-g3");
    daemon.server.shutdown().await;

    // A receiver that lists no root trusts Apple's alone: simulated data is refused.
    let mut config = fixture.config(&db.url, LOOPBACK);
    config.verify.roots.clear();
    let apple_only = Daemon::start(&config, &fixture.tls_cert_der).await;
    let again =
        Generator::new(target.clone()).single(Kind::parse("DID_RENEW", None).unwrap(), now_ms());
    let (status, answer) = apple_only
        .post(again.body(&target, Some(chain()), None).unwrap())
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["reason"].as_str().unwrap_or("").contains("chain"),
        "refused for its chain: {answer}"
    );
    apple_only.server.shutdown().await;
}
on_both_stores!(verified_by_tells_simulated_from_apple);

// ---- the development CA on disk ----

#[test]
fn dev_ca_writes_a_chain_that_loads_back_and_signs_verifiable_data() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let out = asnd().args(["dev-ca", "--out"]).arg(&ca).output().unwrap();
    let (stdout, stderr) = output_text(&out);
    assert!(out.status.success(), "{stderr}");
    for file in [
        "root.pem",
        "intermediate.pem",
        "leaf.pem",
        "leaf.key",
        "README.txt",
    ] {
        assert!(ca.join(file).exists(), "{file}");
    }
    let mode = std::fs::metadata(ca.join("leaf.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key is private");
    let readme = std::fs::read_to_string(ca.join("README.txt")).unwrap();
    assert!(readme.contains("NOT Apple's"), "{readme}");
    let key = std::fs::read_to_string(ca.join("leaf.key")).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");

    // Loads back, and what it signs verifies against its root.pem (and nothing else).
    let chain = devca::load(&ca).unwrap();
    let root_pem = std::fs::read(ca.join("root.pem")).unwrap();
    let anchors = RootSet::parse_file(&root_pem).unwrap();
    let label = anchors[0].label();
    assert!(stdout.contains(&label), "{stdout}");
    let verifier = Verifier::new(RootSet::new(anchors));
    let target = Target::default();
    let event =
        Generator::new(target.clone()).single(Kind::parse("DID_RENEW", None).unwrap(), now_ms());
    let body = event.body(&target, Some(&chain), None).unwrap();
    let v = verify_body(&verifier, &body, "Sandbox").unwrap();
    assert_eq!(v.notification.verified_by, label);
    assert!(verify_body(&Verifier::apple(), &body, "Sandbox").is_err());

    // Saving and loading in process gives the same chain.
    let copy = dir.path().join("copy");
    devca::save(&chain, &copy).unwrap();
    let again = devca::load(&copy).unwrap();
    assert_eq!(again.root_der, chain.root_der);
    assert_eq!(again.intermediate_der, chain.intermediate_der);
    assert_eq!(again.leaf_der, chain.leaf_der);
    assert_eq!(again.leaf_key_pkcs8, chain.leaf_key_pkcs8);

    // A second dev-ca into the same folder refuses to overwrite it.
    let out = asnd().args(["dev-ca", "--out"]).arg(&ca).output().unwrap();
    assert!(!out.status.success());
    assert!(
        output_text(&out)
            .1
            .contains("already holds a development CA"),
        "{}",
        output_text(&out).1
    );

    // A key that is not the leaf's is refused with a clear error.
    std::fs::copy(
        common_chain_dir(dir.path()).join("leaf.key"),
        ca.join("leaf.key"),
    )
    .unwrap();
    let err = devca::load(&ca).err().expect("a foreign key").to_string();
    assert!(err.contains("does not belong to the certificate"), "{err}");
    // A missing file names itself.
    std::fs::remove_file(ca.join("intermediate.pem")).unwrap();
    let err = devca::load(&ca).err().expect("missing file").to_string();
    assert!(err.contains("intermediate.pem"), "{err}");
}

/// The shared test chain saved into a folder (for the binary's `--ca`).
fn common_chain_dir(parent: &Path) -> PathBuf {
    let dir = parent.join("test-chain");
    if !dir.exists() {
        devca::save(chain(), &dir).unwrap();
    }
    dir
}

#[test]
fn simulate_out_writes_the_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let ca = common_chain_dir(dir.path());
    let dev = Verifier::new(RootSet::new(
        RootSet::parse_file(&chain().root_der).unwrap(),
    ));
    // `asnd simulate --ca <ca> ARGS --out <out_dir>`, which must succeed.
    let simulate_to = |out_dir: &Path, args: &[&str]| {
        let out = asnd()
            .args(["simulate", "--ca"])
            .arg(&ca)
            .args(args)
            .arg("--out")
            .arg(out_dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out).1);
    };

    // --count N: N unique bodies, each verifying with the dev root.
    let out_dir = dir.path().join("load");
    simulate_to(
        &out_dir,
        &[
            "--count",
            "25",
            "--type",
            "SUBSCRIBED",
            "--subtype",
            "INITIAL_BUY",
        ],
    );
    let files = sorted_files(&out_dir);
    assert_eq!(files.len(), 25);
    let mut uuids = std::collections::HashSet::new();
    for file in &files {
        let body = std::fs::read_to_string(file).unwrap();
        let v = verify_body(&dev, &body, "Sandbox").unwrap();
        assert_eq!(v.notification.json["subtype"], "INITIAL_BUY");
        uuids.insert(v.notification.json["notificationUUID"].to_string());
    }
    assert_eq!(uuids.len(), 25, "unique notifications");

    // A scenario: one file per step, in order, named after the type.
    let out_dir = dir.path().join("lifecycle");
    simulate_to(
        &out_dir,
        &["--scenario", "lifecycle", "--environment", "Production"],
    );
    let names: Vec<String> = sorted_files(&out_dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "001-SUBSCRIBED-INITIAL_BUY.json",
            "002-DID_RENEW.json",
            "003-DID_RENEW.json",
            "004-DID_RENEW.json",
            "005-DID_CHANGE_RENEWAL_STATUS-AUTO_RENEW_DISABLED.json",
            "006-EXPIRED-VOLUNTARY.json"
        ]
    );
    let last = std::fs::read_to_string(out_dir.join(&names[5])).unwrap();
    let v = verify_body(&dev, &last, "Production").unwrap();
    assert_eq!(v.notification.json["data"]["environment"], "Production");

    // The binary verifies them too (`asnd verify --root`).
    let verified = asnd()
        .args(["verify", "--root"])
        .arg(ca.join("root.pem"))
        .args(["--environment", "Production", "--bundle-id", BUNDLE])
        .arg(out_dir.join(&names[0]))
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", output_text(&verified).1);

    // V1 bodies need the secret, and carry it.
    let out_dir = dir.path().join("v1");
    let out = asnd()
        .args(["simulate", "--v1", "--scenario", "billing", "--out"])
        .arg(&out_dir)
        .env_remove("ASND_V1_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        output_text(&out).1.contains("--v1-secret"),
        "{}",
        output_text(&out).1
    );
    let out = asnd()
        .args(["simulate", "--v1", "--scenario", "billing", "--out"])
        .arg(&out_dir)
        .env("ASND_V1_SECRET", "s3cret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out).1);
    let v1 = sorted_files(&out_dir);
    let types: Vec<String> = v1
        .iter()
        .map(|p| {
            let body: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            assert_eq!(body["password"], "s3cret");
            body["notification_type"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(types, ["DID_FAIL_TO_RENEW", "DID_RECOVER"]);
}

#[test]
fn simulate_reports_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let ca = common_chain_dir(dir.path());
    let run = |args: &[&str]| {
        let out = asnd()
            .arg("simulate")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (out.status.code(), output_text(&out).1)
    };
    let ca = ca.to_str().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--ca", ca, "--type", "REFUNDED", "--out", out],
            "unknown notification type \"REFUNDED\"",
        ),
        (
            vec!["--ca", ca, "--type", "SUBSCRIBED", "--out", out],
            "SUBSCRIBED needs --subtype: INITIAL_BUY, RESUBSCRIBE",
        ),
        (
            vec![
                "--ca",
                ca,
                "--type",
                "EXPIRED",
                "--subtype",
                "LATER",
                "--out",
                out,
            ],
            "EXPIRED has no subtype \"LATER\"",
        ),
        (
            vec!["--ca", ca, "--scenario", "story", "--out", out],
            "unknown scenario \"story\"",
        ),
        (
            vec!["--type", "DID_RENEW", "--out", out],
            "need a signing CA",
        ),
        (
            vec!["--ca", "/nonexistent", "--type", "TEST", "--out", out],
            "/nonexistent/root.pem",
        ),
        (
            vec!["--dev", "--scenario", "lifecycle"],
            "start `asnd serve --dev` in this folder first",
        ),
        (vec!["--ca", ca, "--type", "TEST"], "--url"),
        (
            vec!["--ca", ca, "--count", "0", "--out", out],
            "--count must be at least 1",
        ),
    ] {
        let (code, stderr) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let listing = asnd().args(["simulate", "--list"]).output().unwrap();
    let (stdout, _) = output_text(&listing);
    assert!(listing.status.success());
    for kind in Kind::all() {
        assert!(stdout.contains(kind.notification_type), "{}", kind.label());
    }
    assert!(stdout.contains("all-types"));
}

// ---- load mode against the running daemon ----

/// `name: value` lines of the load report.
fn report_lines(stdout: &str) -> HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `asnd simulate` in load mode against `env`'s daemon, signing with the test chain.
async fn simulate_load(env: &Env, args: &[&str]) -> Output {
    let url = format!("https://127.0.0.1:{}/notifications", env.daemon.addr.port());
    let mut command = asnd();
    command
        .args(["simulate", "--url", &url, "--ca"])
        .arg(common_chain_dir(env.fixture.dir.path()))
        .arg("--cacert")
        .arg(&env.fixture.tls_cert)
        .args(args);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_mode_reports_all_200s() {
    let env = Env::sqlite().await;
    let out = simulate_load(&env, &["--count", "60", "--concurrency", "6"]).await;
    let (stdout, stderr) = output_text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let report = report_lines(&stdout);
    assert_eq!(report["notifications"], "60", "{stdout}");
    assert_eq!(report["status 200"], "60", "{stdout}");
    assert_eq!(
        report.keys().filter(|k| k.starts_with("status ")).count(),
        1,
        "only 200s: {stdout}"
    );
    for key in ["latency p50", "latency p90", "latency p99", "latency max"] {
        let ms: f64 = report[key].trim_end_matches(" ms").parse().unwrap();
        assert!(ms > 0.0, "{key}: {stdout}");
    }
    let p = |k: &str| -> f64 { report[k].trim_end_matches(" ms").parse().unwrap() };
    assert!(p("latency p50") <= p("latency p90") && p("latency p90") <= p("latency p99"));
    assert!(p("latency p99") <= p("latency max"));
    assert!(
        report["throughput"].ends_with(" notifications/s"),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("throughput: "),
        "the headline figure comes last"
    );
    // 60 distinct notifications, each with its transaction and subscription.
    assert_eq!(env.db.count("notifications").await, 60);
    assert_eq!(env.db.count("subscriptions").await, 60);

    // A receiver that refuses (wrong bundle): the report counts 422s and the exit code says so.
    let out = simulate_load(&env, &["--count", "5", "--bundle-id", "com.other.app"]).await;
    let (stdout, _) = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(report_lines(&stdout)["status 422"], "5", "{stdout}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mix_mode_sends_every_part_and_logs_what_was_acknowledged() {
    let env = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.apps[0].v1_shared_secrets = vec!["mix-secret".to_string().into()];
    })
    .await;
    let acked = env.fixture.dir.path().join("acked.txt");
    let out = simulate_load(
        &env,
        &[
            "--mix",
            "new=3,duplicate=2,v1=2,invalid=2,oversized=1,slow=1",
            "--duration",
            "3s",
            "--rate",
            "20",
            "--report-every",
            "1s",
            "--v1-secret",
            "mix-secret",
            "--acked",
            acked.to_str().unwrap(),
        ],
    )
    .await;
    let (stdout, stderr) = output_text(&out);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(asnd::simulate::mix::CSV_HEADER),
        "{stdout}"
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|f| f.parse().unwrap()).collect())
        .collect();
    assert!(rows.len() >= 3, "a line a second: {stdout}");
    let total = |column: usize| rows.iter().map(|r| r[column]).sum::<f64>();
    assert!(total(1) >= 30.0, "about 60 requests in 3 s: {stdout}");
    assert_eq!(total(5), 0.0, "every request answered: {stdout}");
    assert_eq!(total(6), 0.0, "every answer the expected one: {stdout}");
    // Every part was sent and answered as expected (totals by part on stderr).
    for part in ["new 200", "v1 200", "invalid 422", "slow 200"] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    assert!(!stderr.contains("not expected"), "{stderr}");
    // Each acknowledged notification is stored, V2 by its UUID and V1 by its transaction.
    let acked = std::fs::read_to_string(&acked).unwrap();
    assert!(acked.lines().count() >= 10, "{acked}");
    for line in acked.lines() {
        let sql = match line.split_once(' ').unwrap() {
            ("v2", uuid) => {
                format!("SELECT count(*) FROM notifications WHERE notification_uuid = '{uuid}'")
            }
            ("v1", id) => format!(
                "SELECT count(*) FROM notifications WHERE version = '1' AND transaction_id = '{id}'"
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(env.db.number(&sql).await, 1, "{line}");
    }
    // Duplicates add nothing: every stored notification is one acknowledged line.
    assert_eq!(
        env.db.count("notifications").await,
        acked.lines().count() as i64
    );

    // A mix that names an unknown part, or V1 without its secret, is a usage error.
    for (args, needle) in [
        (vec!["--mix", "new=1,fresh=2"], "unknown part \"fresh\""),
        (vec!["--mix", "v1=1"], "--v1-secret"),
        (vec!["--mix", "new=1", "--rate", "0"], "--rate must be"),
    ] {
        let out = simulate_load(&env, &args).await;
        let (_, stderr) = output_text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    env.finish().await;
}

// ---- serve --dev and simulate --dev as an operator runs them ----

fn stop(child: &mut Child) {
    signal(child, "-TERM");
    wait_exit(child, Duration::from_secs(25));
}

/// The quick start's `sqlite3 asnd-dev/asnd.db "..."` queries, from the README.
fn quick_start_queries() -> Vec<String> {
    let readme = include_str!("../README.md");
    let start = readme.find("## Quick start").expect("a quick start");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut queries = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if !line.starts_with("sqlite3 ") {
            continue;
        }
        // The SQL is the double-quoted part, possibly continued over `\` lines.
        let mut command = line.to_string();
        while command.ends_with('\\') {
            command.pop();
            command.push(' ');
            command.push_str(lines.next().unwrap_or_default().trim());
        }
        let sql = command
            .split_once('"')
            .and_then(|(_, rest)| rest.rsplit_once('"'))
            .map(|(sql, _)| sql.to_string())
            .expect("sqlite3 \"SQL\"");
        queries.push(sql);
    }
    queries
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_dev_then_simulate_dev_works_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = start_dev(dir.path());
    assert!(dir.path().join("asnd-dev/ca/root.pem").exists());
    assert!(dir.path().join("asnd-dev/ca/leaf.key").exists());
    let config = std::fs::read_to_string(dir.path().join("asnd-dev/asnd.toml")).unwrap();
    assert!(config.contains(r#"roots = ["builtin:apple-root-ca-g3", "asnd-dev/ca/root.pem"]"#));

    let (cwd, u) = (dir.path().to_path_buf(), url.clone());
    let out = tokio::task::spawn_blocking(move || {
        asnd()
            .args(["simulate", "--dev", "--url", &u, "--scenario", "lifecycle"])
            .current_dir(&cwd)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = output_text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.matches(" 200 stored").count(), 6, "{stdout}");
    assert!(stdout.contains("6 of 6 delivered"), "{stdout}");

    // Trusting the development CA adds no other root: Apple's own test data stays refused.
    let http = client(&dev_tls_cert_der(dir.path()));
    assert_eq!(
        status_of(http.post(&url).body(apple_mock_body())).await,
        422
    );
    stop(&mut server);

    // The README's quick-start queries run on what the scenario produced.
    let db = format!("sqlite://{}", dir.path().join("asnd-dev/asnd.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let queries = quick_start_queries();
    assert!(queries.len() >= 2, "{queries:?}");
    let history = sqlx::query(&queries[0]).fetch_all(&pool).await.unwrap();
    assert_eq!(history.len(), 6, "{}", queries[0]);
    use sqlx::Row;
    let types: Vec<String> = history.iter().map(|r| r.get::<String, _>(1)).collect();
    assert_eq!(
        types,
        [
            "SUBSCRIBED",
            "DID_RENEW",
            "DID_RENEW",
            "DID_RENEW",
            "DID_CHANGE_RENEWAL_STATUS",
            "EXPIRED"
        ]
    );
    for row in &history {
        let verified_by: String = row.get("verified_by");
        assert!(verified_by.starts_with("sha256:"), "{verified_by}");
    }
    let states = sqlx::query(&queries[1]).fetch_all(&pool).await.unwrap();
    assert_eq!(states.len(), 1, "{}", queries[1]);
    assert_eq!(states[0].get::<i64, _>("status"), 2);
    assert_eq!(states[0].get::<i64, _>("auto_renew_status"), 0);
    assert_eq!(
        states[0].get::<String, _>("last_notification_type"),
        "EXPIRED"
    );
    pool.close().await;

    // Where the sqlite3 tool is installed, the queries give the same through it.
    if let Ok(out) = Command::new("sqlite3")
        .arg(dir.path().join("asnd-dev/asnd.db"))
        .arg(&queries[1])
        .output()
    {
        let (stdout, stderr) = output_text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains("EXPIRED"), "{stdout}");
    }
}

/// A `serve --dev` folder from before the development CA: its untouched config is brought up to
/// date, an edited one is left alone.
#[test]
fn serve_dev_upgrades_an_untouched_old_config() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("asnd-dev");
    std::fs::create_dir_all(&dev).unwrap();
    let old = "# Written by `asnd serve --dev` for local development. Edit freely; delete the folder to start over.
# Only Apple Root CA - G3 is trusted (verify.roots is empty), so only genuine Apple data verifies.

[server]
listen = \"127.0.0.1:8443\"
path = \"/notifications\"
tls_cert = \"asnd-dev/tls.pem\"
tls_key = \"asnd-dev/tls.key\"

[database]
url = \"sqlite://asnd-dev/asnd.db\"

[sources]
# Loopback only: this is a development server.
allow = [\"127.0.0.0/8\", \"::1/128\"]

[verify]
roots = []

[[apps]]
bundle_id = \"com.example.app\"
app_apple_id = 1234567890
environments = [\"Production\", \"Sandbox\"]
";
    std::fs::write(dev.join("asnd.toml"), old).unwrap();
    let path = asnd::cli::dev::prepare(&dev).unwrap();
    let config = Config::load(Some(&path)).unwrap();
    assert_eq!(
        config.verify.roots,
        [
            PathBuf::from(BUILTIN_APPLE_ROOT),
            PathBuf::from("asnd-dev/ca/root.pem")
        ]
    );
    let edited = old.replace("roots = []", "roots = [] # mine");
    std::fs::write(dev.join("asnd.toml"), &edited).unwrap();
    asnd::cli::dev::prepare(&dev).unwrap();
    assert_eq!(
        std::fs::read_to_string(dev.join("asnd.toml")).unwrap(),
        edited
    );
}

/// The files `simulate --out` wrote, in name order (which is the order of the steps).
fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}
