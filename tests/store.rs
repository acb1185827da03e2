//! One behavioural suite for both stores: SQLite in a temporary file, and PostgreSQL at
//! `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`), where every test gets a
//! fresh database `asnd_test_<random>` (see `tests/common/db.rs`) that is dropped afterwards. PostgreSQL being unreachable is
//! a test failure, not a skip.
//!
//! Rows are read back with plain SQL: times are rendered as `YYYY-MM-DDTHH:MM:SS.mmmZ` (SQLite
//! stores that text; PostgreSQL's `timestamptz` is formatted with `to_char` in UTC).

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use asnd::store::{
    self, NewNotification, QuarantineLimits, Rejection, SaveOutcome, Store, StoreError,
    StoreOptions, SubscriptionRow, TransactionRow,
};
use serde_json::{Value, json};
use sqlx::Row;

use common::{Backend, TestDb, admin_connection, admin_url, with_database};

/// A migrated database and the store under test on it.
async fn migrated(backend: Backend) -> (TestDb, Arc<dyn Store>) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    store.migrate().await.expect("migrate");
    (db, store)
}

/// Makes inserting a transaction (`table = "transactions"`) or subscription row whose
/// `product_id` is `'boom'` fail inside the database.
async fn forbid_boom(db: &TestDb, table: &str) {
    match db.backend {
        Backend::Postgres => {
            db.exec(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {table}_no_boom \
                 CHECK (product_id IS DISTINCT FROM 'boom')"
            ))
            .await
        }
        Backend::Sqlite => {
            db.exec(&format!(
                "CREATE TRIGGER {table}_no_boom BEFORE INSERT ON {table} \
                 WHEN NEW.product_id = 'boom' \
                 BEGIN SELECT RAISE(ABORT, 'product boom is forbidden'); END"
            ))
            .await
        }
    }
}

on_both_stores!(
    store_then_duplicate,
    concurrent_saves_of_one_uuid,
    derived_rows_have_the_right_columns,
    time_columns_are_queryable,
    newest_state_wins,
    concurrent_states_keep_the_newest,
    notification_without_derived_rows,
    rejection_row,
    migrate_twice_is_harmless,
    concurrent_migrate,
    ready_only_after_migrate,
    failed_transaction_row_leaves_nothing,
    failed_subscription_row_leaves_nothing,
    one_failure_among_concurrent_saves_fails_alone,
    concurrent_burst_stores_what_one_at_a_time_would,
    rows_among_the_others_are_stored,
);

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// 2026-11-29T18:27:38.123Z
const RECEIVED: i64 = 1_795_976_858_123;
/// 2026-11-29T18:27:37.001Z
const SIGNED: i64 = 1_795_976_857_001;
const PURCHASE: i64 = 1_793_298_457_999;
const ORIGINAL_PURCHASE: i64 = 1_764_354_000_000;
const EXPIRES: i64 = 1_795_976_857_000;
const GRACE_EXPIRES: i64 = 1_796_408_857_500;
const REVOKED: i64 = 1_795_000_000_010;

/// What SQL should show for `ms`: `YYYY-MM-DDTHH:MM:SS.mmmZ`, computed independently of SQL.
fn iso(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("time in range");
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .expect("format")
}

fn transaction(transaction_id: &str, original: &str, signed: i64, uuid: &str) -> TransactionRow {
    TransactionRow {
        transaction_id: transaction_id.to_string(),
        original_transaction_id: Some(original.to_string()),
        bundle_id: Some("com.example.app".into()),
        product_id: Some("com.example.monthly".into()),
        product_type: Some("Auto-Renewable Subscription".into()),
        purchase_date: Some(PURCHASE),
        original_purchase_date: Some(ORIGINAL_PURCHASE),
        expires_date: Some(EXPIRES),
        revocation_date: Some(REVOKED),
        revocation_reason: Some(1),
        revocation_type: Some("REFUND_FULL".into()),
        environment: Some("Sandbox".into()),
        app_account_token: Some("7e3fb20b-4cdb-47cc-936d-99d65f608138".into()),
        in_app_ownership_type: Some("PURCHASED".into()),
        transaction_reason: Some("RENEWAL".into()),
        web_order_line_item_id: Some("2000000012345678".into()),
        storefront: Some("USA".into()),
        price: Some(9_990),
        currency: Some("USD".into()),
        quantity: Some(1),
        offer_type: Some(2),
        offer_identifier: Some("winback".into()),
        signed_date: signed,
        last_notification_uuid: uuid.to_string(),
        verified_by: "apple-root-ca-g3".into(),
        payload: json!({
            "transactionId": transaction_id,
            "originalTransactionId": original,
            "signedDate": signed,
            "unknownFutureField": {"kept": true, "ünïcode": "✓"}
        }),
    }
}

fn subscription(original: &str, signed: i64, uuid: &str, status: i64) -> SubscriptionRow {
    SubscriptionRow {
        original_transaction_id: original.to_string(),
        bundle_id: Some("com.example.app".into()),
        environment: Some("Sandbox".into()),
        status: Some(status),
        product_id: Some("com.example.monthly".into()),
        auto_renew_product_id: Some("com.example.yearly".into()),
        auto_renew_status: Some(1),
        expires_date: Some(EXPIRES),
        grace_period_expires_date: Some(GRACE_EXPIRES),
        is_in_billing_retry_period: Some(true),
        expiration_intent: Some(2),
        app_account_token: Some("7e3fb20b-4cdb-47cc-936d-99d65f608138".into()),
        signed_date: signed,
        last_notification_uuid: uuid.to_string(),
        last_notification_type: "DID_RENEW".into(),
        last_subtype: Some("BILLING_RECOVERY".into()),
        verified_by: "apple-root-ca-g3".into(),
        renewal_info: Some(json!({"autoRenewStatus": 1, "signedDate": signed})),
    }
}

/// A V2 notification for `original` signed at `signed`, carrying a transaction `<original>-t`
/// and a subscription state with `status`.
fn notification(uuid: &str, original: &str, signed: i64, status: i64) -> NewNotification {
    NewNotification {
        notification_uuid: uuid.to_string(),
        notification_type: "DID_RENEW".into(),
        subtype: Some("BILLING_RECOVERY".into()),
        version: "2.0".into(),
        environment: Some("Sandbox".into()),
        bundle_id: Some("com.example.app".into()),
        app_apple_id: Some(1_234_567_890),
        signed_date: Some(signed),
        received_at: RECEIVED,
        source_address: "17.0.0.5".into(),
        transaction_id: Some(format!("{original}-t")),
        original_transaction_id: Some(original.to_string()),
        verified_by: "apple-root-ca-g3".into(),
        raw_body: format!("{{\"signedPayload\":\"{uuid}.{signed}\"}}\n").into_bytes(),
        payload: json!({
            "notificationType": "DID_RENEW",
            "notificationUUID": uuid,
            "data": {"status": status, "signedDate": signed},
        }),
        transaction: Some(transaction(
            &format!("{original}-t"),
            original,
            signed,
            uuid,
        )),
        subscription: Some(subscription(original, signed, uuid, status)),
        other_transactions: Vec::new(),
        other_subscriptions: Vec::new(),
        destinations: Vec::new(),
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn save(store: &Arc<dyn Store>, n: &NewNotification) -> SaveOutcome {
    store
        .save_notification(n)
        .await
        .unwrap_or_else(|e| panic!("save {}: {e}", n.notification_uuid))
}

/// The JSON in `column` of the one row of `table`.
async fn json_column(db: &TestDb, table: &str, column: &str) -> Option<Value> {
    db.json(&format!("SELECT {} FROM {table}", db.t(column)))
        .await
}

/// The administrator's URL, once the server has answered on it: a test that expects an error
/// then proves something.
async fn reachable_admin_url() -> String {
    let admin = admin_url();
    drop(admin_connection(&admin).await);
    admin
}

/// Asserts how many rows the notifications, transactions and subscriptions tables hold.
async fn assert_rows(db: &TestDb, expected: [i64; 3]) {
    for (table, rows) in ["notifications", "transactions", "subscriptions"]
        .into_iter()
        .zip(expected)
    {
        assert_eq!(db.count(table).await, rows, "rows in {table}");
    }
}

// ---------------------------------------------------------------------------------------------
// Tests run against both backends
// ---------------------------------------------------------------------------------------------

async fn store_then_duplicate(backend: Backend) {
    let (db, store) = migrated(backend).await;
    let id = uuid();
    let first = notification(&id, "1000", SIGNED, 1);
    assert_eq!(save(&store, &first).await, SaveOutcome::Stored);

    // Same UUID, different content everywhere: nothing may change.
    let mut again = notification(&id, "1000", SIGNED + 60_000, 5);
    again.payload = json!({"different": true});
    again.raw_body = b"different body".to_vec();
    again.notification_type = "REFUND".into();
    assert_eq!(save(&store, &again).await, SaveOutcome::Duplicate);
    assert_eq!(save(&store, &first).await, SaveOutcome::Duplicate);

    assert_rows(&db, [1, 1, 1]).await;
    let row = db
        .row(&format!(
            "SELECT notification_type, {}, {} FROM notifications",
            db.t("payload"),
            db.ts("signed_date")
        ))
        .await;
    assert_eq!(row[0].as_deref(), Some("DID_RENEW"));
    assert_eq!(
        serde_json::from_str::<Value>(row[1].as_deref().unwrap()).unwrap(),
        first.payload
    );
    assert_eq!(row[2], Some(iso(SIGNED)));
    assert_eq!(
        db.bytes("SELECT raw_body FROM notifications").await,
        first.raw_body
    );
    assert_eq!(
        db.text(&format!("SELECT {} FROM subscriptions", db.t("status")))
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        db.text(&format!(
            "SELECT {} FROM transactions",
            db.ts("signed_date")
        ))
        .await,
        Some(iso(SIGNED))
    );
    store.close().await;
}

async fn concurrent_saves_of_one_uuid(backend: Backend) {
    let (db, store) = migrated(backend).await;
    let n = notification(&uuid(), "2000", SIGNED, 1);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            let n = n.clone();
            tokio::spawn(async move { store.save_notification(&n).await })
        })
        .collect();
    let mut stored = 0;
    let mut duplicate = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(SaveOutcome::Stored) => stored += 1,
            Ok(SaveOutcome::Duplicate) => duplicate += 1,
            Err(e) => panic!("a concurrent save failed: {e}"),
        }
    }
    assert_eq!((stored, duplicate), (1, 19));
    assert_rows(&db, [1, 1, 1]).await;
    store.close().await;
}

async fn derived_rows_have_the_right_columns(backend: Backend) {
    let (db, store) = migrated(backend).await;
    let id = uuid();
    let n = notification(&id, "3000", SIGNED, 4);
    assert_eq!(save(&store, &n).await, SaveOutcome::Stored);

    let notif = db
        .row(&format!(
            "SELECT notification_uuid, notification_type, subtype, version, environment,
                    bundle_id, {}, {}, {}, source_address, transaction_id,
                    original_transaction_id, verified_by, {}
             FROM notifications",
            db.t("app_apple_id"),
            db.ts("signed_date"),
            db.ts("received_at"),
            db.t("id"),
        ))
        .await;
    let expected = [
        Some(id.clone()),
        Some("DID_RENEW".into()),
        Some("BILLING_RECOVERY".into()),
        Some("2.0".into()),
        Some("Sandbox".into()),
        Some("com.example.app".into()),
        Some("1234567890".into()),
        Some("2026-11-29T18:27:37.001Z".into()),
        Some("2026-11-29T18:27:38.123Z".into()),
        Some("17.0.0.5".into()),
        Some("3000-t".into()),
        Some("3000".into()),
        Some("apple-root-ca-g3".into()),
    ];
    assert_eq!(&notif[..13], &expected[..]);
    assert!(notif[13].is_some(), "id is assigned");
    assert_eq!(
        db.bytes("SELECT raw_body FROM notifications").await,
        n.raw_body
    );
    assert_eq!(
        json_column(&db, "notifications", "payload").await,
        Some(n.payload.clone())
    );

    let t = n.transaction.as_ref().unwrap();
    let tx = db
        .row(&format!(
            "SELECT transaction_id, original_transaction_id, bundle_id, product_id, product_type,
                    {}, {}, {}, {}, {}, revocation_type, environment, app_account_token,
                    in_app_ownership_type, transaction_reason, web_order_line_item_id, storefront,
                    {}, currency, {}, {}, offer_identifier, {}, last_notification_uuid, {}
             FROM transactions",
            db.ts("purchase_date"),
            db.ts("original_purchase_date"),
            db.ts("expires_date"),
            db.ts("revocation_date"),
            db.t("revocation_reason"),
            db.t("price"),
            db.t("quantity"),
            db.t("offer_type"),
            db.ts("signed_date"),
            db.ts("updated_at"),
        ))
        .await;
    let expected: Vec<Option<String>> = vec![
        Some("3000-t".into()),
        Some("3000".into()),
        Some("com.example.app".into()),
        Some("com.example.monthly".into()),
        Some("Auto-Renewable Subscription".into()),
        Some(iso(PURCHASE)),
        Some(iso(ORIGINAL_PURCHASE)),
        Some(iso(EXPIRES)),
        Some(iso(REVOKED)),
        Some("1".into()),
        Some("REFUND_FULL".into()),
        Some("Sandbox".into()),
        Some("7e3fb20b-4cdb-47cc-936d-99d65f608138".into()),
        Some("PURCHASED".into()),
        Some("RENEWAL".into()),
        Some("2000000012345678".into()),
        Some("USA".into()),
        Some("9990".into()),
        Some("USD".into()),
        Some("1".into()),
        Some("2".into()),
        Some("winback".into()),
        Some(iso(SIGNED)),
        Some(id.clone()),
    ];
    assert_eq!(&tx[..24], &expected[..]);
    assert_iso_now(tx[24].as_deref());
    assert_eq!(
        json_column(&db, "transactions", "payload").await,
        Some(t.payload.clone())
    );

    let s = n.subscription.as_ref().unwrap();
    let sub = db
        .row(&format!(
            "SELECT original_transaction_id, bundle_id, environment, {}, product_id,
                    auto_renew_product_id, {}, {}, {}, {}, {}, app_account_token, {},
                    last_notification_uuid, last_notification_type, last_subtype, {}
             FROM subscriptions",
            db.t("status"),
            db.t("auto_renew_status"),
            db.ts("expires_date"),
            db.ts("grace_period_expires_date"),
            db.b("is_in_billing_retry_period"),
            db.t("expiration_intent"),
            db.ts("signed_date"),
            db.ts("updated_at"),
        ))
        .await;
    let expected: Vec<Option<String>> = vec![
        Some("3000".into()),
        Some("com.example.app".into()),
        Some("Sandbox".into()),
        Some("4".into()),
        Some("com.example.monthly".into()),
        Some("com.example.yearly".into()),
        Some("1".into()),
        Some(iso(EXPIRES)),
        Some(iso(GRACE_EXPIRES)),
        Some("true".into()),
        Some("2".into()),
        Some("7e3fb20b-4cdb-47cc-936d-99d65f608138".into()),
        Some(iso(SIGNED)),
        Some(id.clone()),
        Some("DID_RENEW".into()),
        Some("BILLING_RECOVERY".into()),
    ];
    assert_eq!(&sub[..16], &expected[..]);
    assert_iso_now(sub[16].as_deref());
    assert_eq!(
        json_column(&db, "subscriptions", "renewal_info").await,
        s.renewal_info.clone()
    );

    // The column types are the native ones.
    match backend {
        Backend::Postgres => {
            let types = db
                .column(
                    "SELECT table_name || '.' || column_name || ':' || data_type
                     FROM information_schema.columns
                     WHERE table_schema = current_schema()
                       AND column_name IN ('received_at', 'signed_date', 'payload', 'raw_body',
                                           'is_in_billing_retry_period', 'renewal_info', 'status')
                     ORDER BY 1",
                )
                .await;
            assert_eq!(
                types,
                [
                    "notifications.payload:jsonb",
                    "notifications.raw_body:bytea",
                    "notifications.received_at:timestamp with time zone",
                    "notifications.signed_date:timestamp with time zone",
                    "rejected_notifications.raw_body:bytea",
                    "rejected_notifications.received_at:timestamp with time zone",
                    "subscriptions.is_in_billing_retry_period:boolean",
                    "subscriptions.renewal_info:jsonb",
                    "subscriptions.signed_date:timestamp with time zone",
                    "subscriptions.status:integer",
                    "transactions.payload:jsonb",
                    "transactions.signed_date:timestamp with time zone",
                ]
            );
        }
        Backend::Sqlite => {
            let types = db
                .row(
                    "SELECT typeof(n.received_at), typeof(n.raw_body), typeof(n.payload),
                            typeof(n.app_apple_id), typeof(s.status),
                            typeof(s.is_in_billing_retry_period), CAST(s.is_in_billing_retry_period AS TEXT)
                     FROM notifications n, subscriptions s",
                )
                .await;
            assert_eq!(
                types,
                ["text", "blob", "text", "integer", "integer", "integer", "1"]
                    .map(|s| Some(s.to_string()))
            );
        }
    }
    store.close().await;
}

/// `updated_at` is the time of the write: a well-formed time within a day of the test clock.
fn assert_iso_now(value: Option<&str>) {
    let value = value.expect("updated_at is set");
    let parsed = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("updated_at {value:?}: {e}"));
    assert_eq!(value.len(), "2026-11-29T18:27:38.123Z".len(), "{value}");
    assert!(value.ends_with('Z'), "{value}");
    let age = (time::OffsetDateTime::now_utc() - parsed).abs();
    assert!(
        age < time::Duration::days(1),
        "updated_at {value} is not now"
    );
}

async fn time_columns_are_queryable(backend: Backend) {
    let (db, store) = migrated(backend).await;
    // Milliseconds at the edges of a second, across a day boundary, and the epoch itself.
    let times = [
        0,
        1,
        999,
        1_795_996_799_999, // 2026-11-29T23:59:59.999Z
        1_795_996_800_000, // 2026-11-30T00:00:00.000Z
        RECEIVED,
    ];
    for (i, ms) in times.iter().enumerate() {
        let mut n = notification(&uuid(), &format!("t{i}"), *ms, 1);
        n.received_at = *ms;
        n.transaction = None;
        n.subscription = None;
        assert_eq!(save(&store, &n).await, SaveOutcome::Stored);
    }
    let rendered = db
        .texts(&format!(
            "SELECT {}, {} FROM notifications ORDER BY received_at DESC",
            db.ts("received_at"),
            db.ts("signed_date")
        ))
        .await;
    let mut expected: Vec<_> = times.iter().map(|ms| iso(*ms)).collect();
    expected.sort();
    expected.reverse();
    assert_eq!(
        rendered
            .iter()
            .map(|r| r[0].clone().unwrap())
            .collect::<Vec<_>>(),
        expected
    );
    assert!(rendered.iter().all(|r| r[0] == r[1]));
    assert_eq!(iso(1_795_996_799_999), "2026-11-29T23:59:59.999Z");

    // Per-day counts and range queries, the way people will query.
    let (by_day, in_range) = match backend {
        Backend::Postgres => (
            "SELECT to_char(day, 'YYYY-MM-DD') || '=' || COUNT(*)
             FROM (SELECT (received_at AT TIME ZONE 'UTC')::date AS day FROM notifications) d
             GROUP BY day ORDER BY day",
            "SELECT COUNT(*) FROM notifications
             WHERE received_at >= '2026-11-29T00:00:00Z' AND received_at < '2026-11-30T00:00:00Z'",
        ),
        Backend::Sqlite => (
            "SELECT date(received_at) || '=' || COUNT(*)
             FROM notifications GROUP BY date(received_at) ORDER BY 1",
            "SELECT COUNT(*) FROM notifications
             WHERE received_at >= '2026-11-29T00:00:00.000Z' AND received_at < '2026-11-30T00:00:00.000Z'",
        ),
    };
    let days = db.column(by_day).await;
    assert_eq!(days, ["1970-01-01=3", "2026-11-29=2", "2026-11-30=1"]);
    assert_eq!(db.number(in_range).await, 2);

    // Back to milliseconds, exactly.
    let back = match backend {
        Backend::Postgres => {
            "SELECT CAST((extract(epoch FROM received_at) * 1000)::bigint AS TEXT)
             FROM notifications ORDER BY received_at"
        }
        Backend::Sqlite => {
            "SELECT CAST(CAST(round((julianday(received_at) - 2440587.5) * 86400000) AS INTEGER) AS TEXT)
             FROM notifications ORDER BY received_at"
        }
    };
    let mut sorted = times.to_vec();
    sorted.sort();
    assert_eq!(
        db.column(back).await,
        sorted.iter().map(|ms| ms.to_string()).collect::<Vec<_>>()
    );
    store.close().await;
}

async fn newest_state_wins(backend: Backend) {
    let (db, store) = migrated(backend).await;
    let state = || async {
        db.row(&format!(
            "SELECT {}, s.last_notification_uuid, {}, t.last_notification_uuid, {}
             FROM subscriptions s JOIN transactions t
               ON t.original_transaction_id = s.original_transaction_id
             WHERE s.original_transaction_id = '4000'",
            db.t("s.status"),
            db.ts("s.signed_date"),
            db.t("t.price"),
        ))
        .await
    };

    // Saves a state of subscription 4000 (its transaction's price too); returns its UUID.
    let save_state = async |signed: i64, status: i64, price: i64| {
        let id = uuid();
        let mut n = notification(&id, "4000", signed, status);
        n.transaction.as_mut().unwrap().price = Some(price);
        assert_eq!(save(&store, &n).await, SaveOutcome::Stored);
        id
    };
    // What `state` reads when the notification `id` set both rows.
    let set_by = |id: &str, status: &str, signed: i64, price: &str| {
        vec![
            Some(status.to_owned()),
            Some(id.to_owned()),
            Some(iso(signed)),
            Some(id.to_owned()),
            Some(price.to_owned()),
        ]
    };

    // Newer first (status 1, price 100)...
    let newer_id = save_state(SIGNED, 1, 100).await;
    // ...then an older one (status 2, price 200), delivered late: stored as an event, but the
    // derived state stays the newer one.
    save_state(SIGNED - 1, 2, 200).await;
    assert_eq!(state().await, set_by(&newer_id, "1", SIGNED, "100"));
    assert_eq!(db.count("notifications").await, 2);

    // A still newer one does update (status 5, price 300).
    let newest_id = save_state(SIGNED + 1, 5, 300).await;
    assert_eq!(state().await, set_by(&newest_id, "5", SIGNED + 1, "300"));
    assert_rows(&db, [3, 1, 1]).await;
    store.close().await;
}

async fn concurrent_states_keep_the_newest(backend: Backend) {
    let (db, store) = migrated(backend).await;
    // 30 different notifications for one subscription, saved at once in a scrambled order.
    let mut offsets: Vec<i64> = (0..30).map(|i| (i * 17) % 30).collect();
    offsets.rotate_left(7);
    let tasks: Vec<_> = offsets
        .iter()
        .map(|offset| {
            let store = store.clone();
            let n = notification(&uuid(), "5000", SIGNED + offset, 1 + offset % 5);
            tokio::spawn(async move { store.save_notification(&n).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await.expect("task").expect("save"),
            SaveOutcome::Stored
        );
    }
    assert_eq!(db.count("notifications").await, 30);
    assert_eq!(
        db.row(&format!(
            "SELECT {}, {} FROM subscriptions",
            db.ts("signed_date"),
            db.t("status")
        ))
        .await,
        vec![Some(iso(SIGNED + 29)), Some((1 + 29 % 5).to_string())]
    );
    assert_eq!(
        db.text(&format!(
            "SELECT {} FROM transactions",
            db.ts("signed_date")
        ))
        .await,
        Some(iso(SIGNED + 29))
    );
    store.close().await;
}

async fn notification_without_derived_rows(backend: Backend) {
    let (db, store) = migrated(backend).await;
    // A V1-style notification: no signedDate, no environment, nothing derived.
    let n = NewNotification {
        notification_uuid: uuid(),
        notification_type: "TEST".into(),
        subtype: None,
        version: "1".into(),
        environment: None,
        bundle_id: None,
        app_apple_id: None,
        signed_date: None,
        received_at: RECEIVED,
        source_address: "2001:db8::1".into(),
        transaction_id: None,
        original_transaction_id: None,
        verified_by: "v1-shared-secret".into(),
        raw_body: vec![0, 159, 146, 150, 255, b'{', b'}'],
        payload: json!({}),
        transaction: None,
        subscription: None,
        other_transactions: Vec::new(),
        other_subscriptions: Vec::new(),
        destinations: Vec::new(),
    };
    assert_eq!(save(&store, &n).await, SaveOutcome::Stored);
    assert_rows(&db, [1, 0, 0]).await;
    assert_eq!(
        db.row(&format!(
            "SELECT version, subtype, environment, bundle_id, {}, {}, {}, transaction_id,
                    original_transaction_id, verified_by, source_address
             FROM notifications",
            db.t("app_apple_id"),
            db.ts("signed_date"),
            db.ts("received_at"),
        ))
        .await,
        vec![
            Some("1".into()),
            None,
            None,
            None,
            None,
            None,
            Some(iso(RECEIVED)),
            None,
            None,
            Some("v1-shared-secret".into()),
            Some("2001:db8::1".into()),
        ]
    );
    assert_eq!(
        db.bytes("SELECT raw_body FROM notifications").await,
        n.raw_body
    );
    assert_eq!(
        json_column(&db, "notifications", "payload").await,
        Some(json!({}))
    );
    store.close().await;
}

async fn rejection_row(backend: Backend) {
    let (db, store) = migrated(backend).await;
    let r = Rejection {
        received_at: RECEIVED,
        source_address: "17.0.0.9".into(),
        reason: "CHAIN_INVALID: certificate expired".into(),
        http_status: 422,
        raw_body: vec![b'x', 0, 0xff, b'\n'],
        notification_uuid: None,
        body_length: 4,
    };
    let keep_all = QuarantineLimits {
        max_rows: 100,
        keep_since_ms: 0,
    };
    store
        .quarantine()
        .save(&r, &keep_all)
        .await
        .expect("save rejection");
    store
        .quarantine()
        .save(&r, &keep_all)
        .await
        .expect("save it again");
    assert_eq!(db.count("rejected_notifications").await, 2);
    assert_eq!(db.count("notifications").await, 0);
    let rows = db
        .texts(&format!(
            "SELECT {}, {}, source_address, reason, {} FROM rejected_notifications ORDER BY id",
            db.t("id"),
            db.ts("received_at"),
            db.t("http_status"),
        ))
        .await;
    assert_eq!(rows.len(), 2);
    assert_ne!(rows[0][0], rows[1][0], "each rejection has its own id");
    for row in &rows {
        assert_eq!(
            &row[1..],
            &[
                Some("2026-11-29T18:27:38.123Z".to_string()),
                Some("17.0.0.9".into()),
                Some("CHAIN_INVALID: certificate expired".into()),
                Some("422".into()),
            ]
        );
    }
    assert_eq!(
        db.bytes("SELECT raw_body FROM rejected_notifications ORDER BY id LIMIT 1")
            .await,
        r.raw_body
    );
    store.close().await;
}

async fn migrate_twice_is_harmless(backend: Backend) {
    let (db, store) = migrated(backend).await;
    let n = notification(&uuid(), "6000", SIGNED, 1);
    assert_eq!(save(&store, &n).await, SaveOutcome::Stored);
    store.migrate().await.expect("second migrate");
    // A second process (another store) migrating again is harmless too.
    let other = db.store().await;
    other.migrate().await.expect("migrate from another store");
    assert!(other.ready().await.expect("ready"));
    assert_eq!(db.count("notifications").await, 1);
    assert_eq!(save(&store, &n).await, SaveOutcome::Duplicate);
    store.close().await;
    other.close().await;
}

async fn concurrent_migrate(backend: Backend) {
    let db = TestDb::empty(backend).await;
    let a = db.store().await;
    let b = db.store().await;
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.expect("first concurrent migrate");
    rb.expect("second concurrent migrate");
    assert!(a.ready().await.expect("ready a"));
    assert!(b.ready().await.expect("ready b"));
    let folder = match backend {
        Backend::Postgres => "migrations/postgres",
        Backend::Sqlite => "migrations/sqlite",
    };
    let migrations = std::fs::read_dir(folder).unwrap().count() as i64;
    assert_eq!(
        db.number("SELECT COUNT(*) FROM _sqlx_migrations").await,
        migrations,
        "each migration recorded once"
    );
    assert_eq!(
        save(&a, &notification(&uuid(), "7000", SIGNED, 1)).await,
        SaveOutcome::Stored
    );
    a.close().await;
    b.close().await;
}

async fn ready_only_after_migrate(backend: Backend) {
    let db = TestDb::empty(backend).await;
    let store = db.store().await;
    match store.ready().await {
        Ok(false) | Err(_) => {}
        Ok(true) => panic!("ready() on an unmigrated database"),
    }
    store.migrate().await.expect("migrate");
    assert!(store.ready().await.expect("ready"));

    // A failed migration record is not "applied".
    db.exec("UPDATE _sqlx_migrations SET success = FALSE").await;
    assert!(!store.ready().await.expect("ready with a failed migration"));
    db.exec("UPDATE _sqlx_migrations SET success = TRUE").await;
    assert!(store.ready().await.expect("ready again"));

    // A closed store is not ready.
    store.close().await;
    assert!(!matches!(store.ready().await, Ok(true)));
}

async fn failed_transaction_row_leaves_nothing(backend: Backend) {
    let (db, store) = migrated(backend).await;
    forbid_boom(&db, "transactions").await;
    let id = uuid();
    let mut n = notification(&id, "8000", SIGNED, 1);
    n.transaction.as_mut().unwrap().product_id = Some("boom".into());
    match store.save_notification(&n).await {
        Err(StoreError::Database(_) | StoreError::Write(_)) => {}
        other => panic!("expected a database error, got {other:?}"),
    }
    // No half-written event.
    assert_rows(&db, [0, 0, 0]).await;

    // The UUID was not consumed: Apple's retry is stored in full.
    n.transaction.as_mut().unwrap().product_id = Some("com.example.monthly".into());
    assert_eq!(save(&store, &n).await, SaveOutcome::Stored);
    assert_rows(&db, [1, 1, 1]).await;
    store.close().await;
}

/// SQLite writes concurrent notifications in one transaction (group commit): a notification that
/// fails must be undone and reported alone, and the others stored.
async fn one_failure_among_concurrent_saves_fails_alone(backend: Backend) {
    let (db, store) = migrated(backend).await;
    forbid_boom(&db, "transactions").await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let mut n = notification(&uuid(), &format!("85{i:02}"), SIGNED, 1);
        if i == 13 {
            n.transaction.as_mut().unwrap().product_id = Some("boom".into());
        }
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            (i, store.save_notification(&n).await)
        }));
    }
    for task in tasks {
        match task.await.unwrap() {
            (13, Err(_)) => {}
            (13, ok) => panic!("the failing notification answered {ok:?}"),
            (i, result) => assert_eq!(result.unwrap(), SaveOutcome::Stored, "notification {i}"),
        }
    }
    assert_rows(&db, [29, 29, 29]).await;
    store.close().await;
}

/// Notifications that arrive together are written together (PostgreSQL: one statement per batch;
/// SQLite: one transaction). A burst mixing several states of each subscription, retries of one
/// UUID and notifications with deliveries must store exactly what saving them one at a time
/// would: each UUID once, the newest state of each subscription, one delivery per destination.
async fn concurrent_burst_stores_what_one_at_a_time_would(backend: Backend) {
    let (db, store) = migrated(backend).await;
    let mut burst = Vec::new();
    for subscription in 0..20 {
        // Newest state first, so that "the last one written wins" would fail the check below.
        for state in [2, 0, 1] {
            let original = format!("96{subscription:02}");
            let mut n = notification(&uuid(), &original, SIGNED + state, 1 + state);
            if subscription % 2 == 0 {
                n.destinations = vec!["backend".into(), "analytics".into()];
            }
            // Apple's retries: ten of the notifications delivered twice at once.
            if burst.len() % 7 == 0 {
                burst.push(n.clone());
            }
            burst.push(n);
        }
    }
    assert_eq!(burst.len(), 60 + 10);
    let tasks: Vec<_> = burst
        .into_iter()
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.save_notification(&n).await })
        })
        .collect();
    let (mut stored, mut duplicate) = (0, 0);
    for task in tasks {
        match task.await.expect("task").expect("save") {
            SaveOutcome::Stored => stored += 1,
            SaveOutcome::Duplicate => duplicate += 1,
        }
    }
    assert_eq!((stored, duplicate), (60, 10));
    assert_rows(&db, [60, 20, 20]).await;
    // Every subscription holds its newest state, whatever order the burst was written in.
    let newest = db
        .column(&format!(
            "SELECT {} FROM subscriptions WHERE status = 3",
            db.t("original_transaction_id")
        ))
        .await;
    assert_eq!(newest.len(), 20, "{newest:?}");
    // Ten subscriptions with deliveries, three notifications each, two destinations.
    assert_eq!(db.count("event_deliveries").await, 60);
    if backend == Backend::Postgres {
        // The burst was written in batches: fewer transactions than notifications.
        let transactions = db
            .text("SELECT CAST(COUNT(DISTINCT xmin::text) AS TEXT) FROM notifications")
            .await
            .unwrap();
        let transactions: usize = transactions.parse().unwrap();
        assert!(
            transactions < 60,
            "{transactions} transactions for 60 notifications"
        );
    }
    store.close().await;
}

/// A notification may hold its only transaction and subscription rows in `other_transactions` and
/// `other_subscriptions` (a V1 body whose renewal info is for another subscription): they are
/// stored like the first ones.
async fn rows_among_the_others_are_stored(backend: Backend) {
    let (db, store) = migrated(backend).await;
    let mut n = notification(&uuid(), "9800", SIGNED, 1);
    n.other_transactions = n.transaction.take().into_iter().collect();
    n.other_subscriptions = n.subscription.take().into_iter().collect();
    assert_eq!(save(&store, &n).await, SaveOutcome::Stored);
    assert_rows(&db, [1, 1, 1]).await;
    store.close().await;
}

async fn failed_subscription_row_leaves_nothing(backend: Backend) {
    let (db, store) = migrated(backend).await;
    forbid_boom(&db, "subscriptions").await;
    let mut n = notification(&uuid(), "8100", SIGNED, 1);
    n.subscription.as_mut().unwrap().product_id = Some("boom".into());
    match store.save_notification(&n).await {
        Err(StoreError::Database(_) | StoreError::Write(_)) => {}
        other => panic!("expected a database error, got {other:?}"),
    }
    // The last statement failed: the event and the transaction row before it are gone too.
    assert_rows(&db, [0, 0, 0]).await;
    n.subscription.as_mut().unwrap().product_id = None;
    assert_eq!(save(&store, &n).await, SaveOutcome::Stored);
    assert_eq!(db.count("subscriptions").await, 1);
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// Backend-specific and backend-independent tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sqlite_connection_is_durable_and_waits_for_writers() {
    let db = TestDb::empty(Backend::Sqlite).await;
    let store = store::sqlite::SqliteStore::connect(&db.url, &StoreOptions::default())
        .await
        .expect("connect");
    let mut conn = store.pool().acquire().await.expect("acquire");
    let mut pragma = async |name: &str| -> String {
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("PRAGMA {name}: {e}"));
        match row.try_get::<String, _>(0) {
            Ok(s) => s,
            Err(_) => row.get::<i64, _>(0).to_string(),
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("synchronous").await, "2", "synchronous = FULL");
    assert_eq!(pragma("foreign_keys").await, "1");
    assert_eq!(pragma("busy_timeout").await, "5000");
    // Checkpoints run beside the group writer, not in its commits.
    assert_eq!(pragma("wal_autocheckpoint").await, "0");
    assert_eq!(pragma("temp_store").await, "2", "temp_store = MEMORY");
    assert_eq!(pragma("cache_size").await, "-16000");
    drop(conn);
    store.close().await;
}

/// With SQLite's automatic checkpoint off, the store's own checkpoint must still copy committed
/// notifications from the WAL into the database file.
#[tokio::test]
async fn sqlite_checkpoints_in_the_background() {
    let (db, store) = migrated(Backend::Sqlite).await;
    let n = notification(&uuid(), "9700", SIGNED, 1);
    assert_eq!(save(&store, &n).await, SaveOutcome::Stored);
    // `immutable` reads the database file alone, never the WAL.
    let file = db.url.trim_start_matches("sqlite://").to_string();
    common::wait::wait_for(
        "the notification in the database file",
        Duration::from_secs(10),
        || {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&file)
                .immutable(true)
                .read_only(true);
            async move {
                let mut conn = sqlx::ConnectOptions::connect(&options).await.ok()?;
                let row = sqlx::query("SELECT COUNT(*) FROM notifications")
                    .fetch_one(&mut conn)
                    .await
                    .ok()?;
                (row.get::<i64, _>(0) == 1).then_some(())
            }
        },
    )
    .await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_file_is_created_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    assert!(!path.exists());
    let store = store::connect(
        &format!("sqlite:{}", path.display()),
        &StoreOptions::default(),
    )
    .await
    .expect("connect");
    store.migrate().await.expect("migrate");
    assert!(store.ready().await.unwrap());
    assert!(path.exists());
    store.close().await;

    let missing_dir = dir.path().join("no/such/dir/x.db");
    let err = store::connect(
        &format!("sqlite://{}", missing_dir.display()),
        &StoreOptions::default(),
    )
    .await
    .expect_err("a file in a missing directory cannot be created");
    assert!(matches!(err, StoreError::Database(_)), "{err}");
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = store::connect("sqlite::memory:", &StoreOptions::default())
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .save_notification(&notification(&uuid(), &format!("m{i}"), SIGNED, 1))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), SaveOutcome::Stored);
    }
    assert!(store.ready().await.unwrap());
    store.close().await;
}

#[tokio::test]
async fn postgres_unreachable_is_a_clear_error_without_the_password() {
    let options = StoreOptions {
        max_connections: 2,
        acquire_timeout: Duration::from_millis(500),
    };
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://asnd:hunter2-secret@127.0.0.1:1/asnd";
    let started = std::time::Instant::now();
    let err = store::connect(url, &options)
        .await
        .expect_err("nothing listens on port 1");
    assert!(started.elapsed() < Duration::from_secs(5), "bounded wait");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.to_lowercase().contains("refused") || text.contains("timed out"),
        "the cause is named: {text}"
    );
}

#[tokio::test]
async fn postgres_wrong_database_is_an_error() {
    if common::skip_without_postgres("postgres_wrong_database_is_an_error").await {
        return;
    }
    let url = with_database(&reachable_admin_url().await, "asnd_test_does_not_exist");
    let err = store::connect(&url, &StoreOptions::default())
        .await
        .expect_err("no such database");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn postgres_store_debug_hides_the_password() {
    if common::skip_without_postgres("postgres_store_debug_hides_the_password").await {
        return;
    }
    let admin = reachable_admin_url().await;
    // The server trusts local connections, so a made-up password is accepted and ignored.
    let with_password = admin.replacen("postgres@", "postgres:hunter2@", 1);
    let store = store::connect(&with_password, &StoreOptions::default())
        .await
        .expect("connect");
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    store.close().await;
}

#[tokio::test]
async fn postgresql_scheme_is_accepted() {
    if common::skip_without_postgres("postgresql_scheme_is_accepted").await {
        return;
    }
    let admin = reachable_admin_url().await;
    let url = admin.replacen("postgres://", "postgresql://", 1);
    let store = store::connect(&url, &StoreOptions::default())
        .await
        .expect("postgresql:// connects");
    store.close().await;
}

#[tokio::test]
async fn unknown_url_scheme_is_an_error() {
    for url in [
        "mysql://root:hunter2@localhost/asnd",
        "http://example.com",
        "asnd.db",
        "",
    ] {
        match store::connect(url, &StoreOptions::default()).await {
            Err(StoreError::Url(shown)) => {
                assert!(!shown.contains("hunter2"), "{shown}");
                let message = StoreError::Url(shown).to_string();
                assert!(message.contains("postgres://"), "{message}");
                assert!(!message.contains("hunter2"), "{message}");
            }
            other => panic!("{url:?}: expected a URL error, got {other:?}"),
        }
    }
}

#[test]
fn redact_url_hides_passwords() {
    use store::redact_url;
    assert_eq!(
        redact_url("postgres://asnd:hunter2@db.example:5432/asnd"),
        "postgres://asnd:***@db.example:5432/asnd"
    );
    assert_eq!(
        redact_url("postgresql://asnd:p%40ss:w@rd@db/asnd?sslmode=require"),
        "postgresql://asnd:***@db/asnd?sslmode=require"
    );
    assert_eq!(
        redact_url("postgres://asnd@db/asnd"),
        "postgres://asnd@db/asnd"
    );
    assert_eq!(
        redact_url("sqlite:///var/lib/asnd/asnd.db"),
        "sqlite:///var/lib/asnd/asnd.db"
    );
    assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
    // Unencoded `/`, `?` and `@` in a password are hidden whole.
    for url in [
        "postgres://u:pa/ss@db/asnd",
        "postgres://u:pa?ss@db/asnd",
        "postgres://u:pa@ss@db/asnd?sslmode=disable",
    ] {
        let shown = redact_url(url);
        assert!(
            !shown.contains("pa") && !shown.contains("ss@"),
            "{url} -> {shown}"
        );
        assert!(
            shown.starts_with("postgres://u:***@db/asnd"),
            "{url} -> {shown}"
        );
    }
    let in_query = redact_url("postgres://db/asnd?user=asnd&password=hunter2&sslmode=require");
    assert!(!in_query.contains("hunter2"), "{in_query}");
    assert!(in_query.contains("sslmode=require"), "{in_query}");
    let both = redact_url("postgres://u:hunter2@db/asnd?password=hunter3");
    assert!(
        !both.contains("hunter2") && !both.contains("hunter3"),
        "{both}"
    );
}

#[test]
fn with_database_replaces_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
