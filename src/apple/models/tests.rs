//! Round trips of Apple's published example payloads, and the open enums' handling of values
//! this version does not know.

use super::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;

/// Decodes `text` as `T` (from text and from a `Value`), re-encodes it and asserts that the
/// JSON value is unchanged.
fn round_trip<T>(text: &str) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let original: Value = serde_json::from_str(text).expect("fixture is JSON");
    let typed: T = serde_json::from_str(text).expect("decodes from text");
    let again = serde_json::to_value(&typed).expect("encodes");
    assert_eq!(
        again, original,
        "decode from text -> encode changed the JSON"
    );
    let from_value: T = serde_json::from_value(original.clone()).expect("decodes from Value");
    assert_eq!(from_value, typed);
    assert_eq!(serde_json::to_value(&from_value).unwrap(), original);
    typed
}

/// The identity a container gives: bundle id, app Apple id, environment.
fn identity(
    bundle_id: Option<&str>,
    app_apple_id: Option<i64>,
    environment: Option<Environment>,
) -> Identity {
    Identity {
        bundle_id: bundle_id.map(str::to_owned),
        app_apple_id,
        environment,
    }
}

/// Asserts which container `p` carries and the identity read from it.
fn assert_container(p: &NotificationPayload, name: &str, expected: Identity) {
    assert_eq!(p.container_name(), Some(name));
    assert_eq!(p.identity(), expected);
}

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            "../../../tests/fixtures/apple-models/",
            $name,
            ".json"
        ))
    };
}

/// Decodes Apple's example notification `text` and checks what every one has: no unknown fields,
/// the type and the subtype.
fn example_notification(
    text: &str,
    notification_type: NotificationType,
    subtype: Option<Subtype>,
) -> NotificationPayload {
    let p: NotificationPayload = round_trip(text);
    assert!(p.extra.is_empty());
    assert_eq!(p.notification_type, Some(notification_type));
    assert_eq!(p.subtype, subtype);
    p
}

/// The identity of Apple's examples, which are all for the bundle `com.example`.
fn example_identity(app_apple_id: i64, environment: Environment) -> Identity {
    identity(Some("com.example"), Some(app_apple_id), Some(environment))
}

#[test]
fn signed_notification() {
    let p = example_notification(
        fixture!("signedNotification"),
        NotificationType::Subscribed,
        Some(Subtype::InitialBuy),
    );
    assert_eq!(
        p.notification_uuid.as_deref(),
        Some("002e14d5-51f5-4503-b5a8-c3a1af68eb20")
    );
    assert_eq!(p.version.as_deref(), Some("2.0"));
    assert_eq!(p.signed_date, Some(1698148900000));
    let data = p.data.as_ref().expect("data");
    assert!(data.extra.is_empty());
    assert_eq!(data.environment, Some(Environment::LocalTesting));
    assert_eq!(data.status, Some(Status::Active));
    assert_eq!(data.bundle_version.as_deref(), Some("1.2.3"));
    assert_eq!(
        data.signed_transaction_info.as_deref(),
        Some("signed_transaction_info_value")
    );
    assert_eq!(
        data.signed_renewal_info.as_deref(),
        Some("signed_renewal_info_value")
    );
    assert_eq!(data.consumption_request_reason, None);
    assert_container(
        &p,
        "data",
        example_identity(41234, Environment::LocalTesting),
    );
}

#[test]
fn consumption_request_notification() {
    let p = example_notification(
        fixture!("signedConsumptionRequestNotification"),
        NotificationType::ConsumptionRequest,
        None,
    );
    let data = p.data.expect("data");
    assert!(data.extra.is_empty());
    assert_eq!(
        data.consumption_request_reason,
        Some(ConsumptionRequestReason::UnintendedPurchase)
    );
}

#[test]
fn external_purchase_token_notification() {
    let p = example_notification(
        fixture!("signedExternalPurchaseTokenNotification"),
        NotificationType::ExternalPurchaseToken,
        Some(Subtype::Unreported),
    );
    let token = p.external_purchase_token.as_ref().expect("token");
    assert!(token.extra.is_empty());
    assert_eq!(token.token_creation_date, Some(1698148950000));
    assert_container(
        &p,
        "externalPurchaseToken",
        example_identity(55555, Environment::Production),
    );
}

#[test]
fn external_purchase_token_sandbox_notification() {
    let p: NotificationPayload =
        round_trip(fixture!("signedExternalPurchaseTokenSandboxNotification"));
    let token = p.external_purchase_token.as_ref().expect("token");
    assert!(token.extra.is_empty());
    assert_eq!(token.environment(), Some(Environment::Sandbox));
    assert_eq!(p.identity().environment, Some(Environment::Sandbox));
    assert_eq!(p.identity().app_apple_id, Some(55555));
}

#[test]
fn rescind_consent_notification() {
    let p = example_notification(
        fixture!("signedRescindConsentNotification"),
        NotificationType::RescindConsent,
        None,
    );
    let app_data = p.app_data.as_ref().expect("appData");
    assert!(app_data.extra.is_empty());
    assert_eq!(
        app_data.signed_app_transaction_info.as_deref(),
        Some("signed_app_transaction_info_value")
    );
    assert_container(
        &p,
        "appData",
        example_identity(41234, Environment::LocalTesting),
    );
}

#[test]
fn summary_notification() {
    let p = example_notification(
        fixture!("signedSummaryNotification"),
        NotificationType::RenewalExtension,
        Some(Subtype::Summary),
    );
    let summary = p.summary.as_ref().expect("summary");
    assert!(summary.extra.is_empty());
    assert_eq!(summary.succeeded_count, Some(5));
    assert_eq!(summary.failed_count, Some(2));
    assert_eq!(
        summary.storefront_country_codes.as_deref(),
        Some(&["CAN".to_owned(), "USA".to_owned(), "MEX".to_owned()][..])
    );
    assert_container(
        &p,
        "summary",
        example_identity(41234, Environment::LocalTesting),
    );
}

#[test]
fn signed_transaction() {
    let t: TransactionInfo = round_trip(fixture!("signedTransaction"));
    assert!(t.extra.is_empty());
    assert_eq!(t.product_type, Some(ProductType::AutoRenewableSubscription));
    assert_eq!(t.in_app_ownership_type, Some(InAppOwnershipType::Purchased));
    assert_eq!(
        t.revocation_reason,
        Some(RevocationReason::RefundedDueToIssue)
    );
    assert_eq!(t.offer_type, Some(OfferType::IntroductoryOffer));
    assert_eq!(t.offer_discount_type, Some(OfferDiscountType::PayAsYouGo));
    assert_eq!(t.transaction_reason, Some(TransactionReason::Purchase));
    assert_eq!(t.environment, Some(Environment::LocalTesting));
    assert_eq!(t.billing_plan_type, Some(BillingPlanType::Monthly));
    assert_eq!(t.quantity, Some(1));
    assert_eq!(t.price, Some(10990));
    assert_eq!(t.is_upgraded, Some(true));

    let ac = t
        .advanced_commerce_info
        .as_ref()
        .expect("advancedCommerceInfo");
    assert!(ac.extra.is_empty());
    assert_eq!(ac.period, Some(AdvancedCommerceSubscriptionPeriod::P1M));
    assert_eq!(ac.tax_rate.as_deref(), Some("0.15"));
    assert!(ac.descriptors.as_ref().unwrap().extra.is_empty());
    let items = ac.items.as_ref().expect("items");
    assert_eq!(items.len(), 1);
    assert!(items[0].extra.is_empty());
    assert_eq!(items[0].sku.as_deref(), Some("com.example.sku.premium"));
    let refunds = items[0].refunds.as_ref().expect("refunds");
    assert!(refunds[0].extra.is_empty());
    assert_eq!(
        refunds[0].refund_reason,
        Some(AdvancedCommerceRefundReason::FulfillmentIssue)
    );
    assert_eq!(
        refunds[0].refund_type,
        Some(AdvancedCommerceRefundType::Prorated)
    );

    let commitment = t.commitment_info.as_ref().expect("commitmentInfo");
    assert!(commitment.extra.is_empty());
    assert_eq!(commitment.billing_period_number, Some(3));
    assert_eq!(commitment.total_billing_periods, Some(12));
    assert_eq!(commitment.commitment_price, Some(119880));
}

#[test]
fn signed_transaction_with_revocation() {
    let t: TransactionInfo = round_trip(fixture!("signedTransactionWithRevocation"));
    assert!(t.extra.is_empty());
    assert_eq!(t.revocation_type, Some(RevocationType::RefundProrated));
    assert_eq!(t.revocation_percentage, Some(50000));
    assert_eq!(t.revocation_date, Some(1698148950000));
}

#[test]
fn signed_renewal_info() {
    let r: RenewalInfo = round_trip(fixture!("signedRenewalInfo"));
    assert!(r.extra.is_empty());
    assert_eq!(
        r.expiration_intent,
        Some(ExpirationIntent::CustomerCancelled)
    );
    assert_eq!(r.auto_renew_status, Some(AutoRenewStatus::On));
    assert_eq!(
        r.price_increase_status,
        Some(PriceIncreaseStatus::CustomerHasNotResponded)
    );
    assert_eq!(r.offer_type, Some(OfferType::PromotionalOffer));
    assert_eq!(r.renewal_billing_plan_type, Some(BillingPlanType::Monthly));
    assert_eq!(r.is_in_billing_retry_period, Some(true));
    assert_eq!(
        r.eligible_win_back_offer_ids,
        Some(vec!["eligible1".to_owned(), "eligible2".to_owned()])
    );

    let ac = r
        .advanced_commerce_info
        .as_ref()
        .expect("advancedCommerceInfo");
    assert!(ac.extra.is_empty());
    assert_eq!(ac.consistency_token.as_deref(), Some("token-abc-123"));
    let item = &ac.items.as_ref().expect("items")[0];
    assert!(item.extra.is_empty());
    let pii = item
        .price_increase_info
        .as_ref()
        .expect("priceIncreaseInfo");
    assert!(pii.extra.is_empty());
    assert_eq!(
        pii.status,
        Some(AdvancedCommercePriceIncreaseStatus::Pending)
    );
    assert_eq!(pii.dependent_skus.as_ref().map(Vec::len), Some(2));

    let commitment = r.commitment_info.as_ref().expect("commitmentInfo");
    assert!(commitment.extra.is_empty());
    assert_eq!(
        commitment.commitment_auto_renew_status,
        Some(AutoRenewStatus::On)
    );
    assert_eq!(
        commitment.commitment_renewal_billing_plan_type,
        Some(BillingPlanType::Monthly)
    );
}

#[test]
fn app_transaction() {
    let a: AppTransaction = round_trip(fixture!("appTransaction"));
    assert!(a.extra.is_empty());
    assert_eq!(a.receipt_type, Some(Environment::LocalTesting));
    assert_eq!(a.original_platform, Some(OriginalPlatform::Ios));
    assert_eq!(a.version_external_identifier, Some(512));
    assert_eq!(a.receipt_creation_date, Some(1698148900000));
}

#[test]
fn app_data() {
    let a: AppData = round_trip(fixture!("appData"));
    assert!(a.extra.is_empty());
    assert_eq!(a.environment, Some(Environment::Sandbox));
    assert_eq!(a.app_apple_id, Some(987654321));
}

#[test]
fn notification_history_response() {
    let h: NotificationHistoryResponse = round_trip(fixture!("getNotificationHistoryResponse"));
    assert!(h.extra.is_empty());
    assert_eq!(h.has_more, Some(true));
    let items = h.notification_history.as_ref().expect("history");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.extra.is_empty()));
    let attempts = items[0].send_attempts.as_ref().expect("attempts");
    assert!(attempts.iter().all(|a| a.extra.is_empty()));
    assert_eq!(
        attempts[0].send_attempt_result,
        Some(SendAttemptResult::NoResponse)
    );
    assert_eq!(
        attempts[1].send_attempt_result,
        Some(SendAttemptResult::Success)
    );
    assert_eq!(
        items[1].send_attempts.as_ref().unwrap()[0].send_attempt_result,
        Some(SendAttemptResult::CircularRedirect)
    );
}

#[test]
fn test_notification_status_response() {
    let c: CheckTestNotificationResponse =
        round_trip(fixture!("getTestNotificationStatusResponse"));
    assert!(c.extra.is_empty());
    assert_eq!(c.signed_payload.as_deref(), Some("signed_payload"));
    let attempts = c.send_attempts.as_ref().expect("attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].attempt_date, Some(1698148900000));
    assert_eq!(
        attempts[0].send_attempt_result,
        Some(SendAttemptResult::NoResponse)
    );
}

#[test]
fn request_test_notification_response() {
    let s: SendTestNotificationResponse = round_trip(fixture!("requestTestNotificationResponse"));
    assert!(s.extra.is_empty());
    assert_eq!(
        s.test_notification_token.as_deref(),
        Some("ce3af791-365e-4c60-841b-1674b43c1609")
    );
}

#[test]
fn advanced_commerce_descriptors_and_offer() {
    let d: AdvancedCommerceDescriptors = round_trip(fixture!("advancedCommerceDescriptors"));
    assert!(d.extra.is_empty());
    assert_eq!(d.display_name.as_deref(), Some("display name"));
    let o: AdvancedCommerceOffer = round_trip(fixture!("advancedCommerceOffer"));
    assert!(o.extra.is_empty());
    assert_eq!(o.period, Some(AdvancedCommerceOfferPeriod::P1W));
    assert_eq!(o.reason, Some(AdvancedCommerceOfferReason::WinBack));
    assert_eq!(o.period_count, Some(3));
}

#[test]
fn unknown_string_enum_value() {
    let e: Environment = serde_json::from_str("\"Staging\"").unwrap();
    assert_eq!(e, Environment::Unknown("Staging".into()));
    assert!(!e.is_known());
    assert_eq!(e.as_str(), "Staging");
    assert_eq!(e.to_string(), "Staging");
    assert_eq!(serde_json::to_string(&e).unwrap(), "\"Staging\"");

    let t: NotificationType = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
    assert_eq!(t, NotificationType::Unknown("SOMETHING_NEW".into()));
    assert!(!t.is_known());
    assert_eq!(serde_json::to_value(&t).unwrap(), "SOMETHING_NEW");

    // Known values with spaces and hyphens.
    let p: ProductType = serde_json::from_str("\"Non-Renewing Subscription\"").unwrap();
    assert_eq!(p, ProductType::NonRenewingSubscription);
    assert!(p.is_known());
    // Case matters: a different spelling is unknown and kept as sent.
    let p: ProductType = serde_json::from_str("\"auto-renewable subscription\"").unwrap();
    assert!(!p.is_known());
    assert_eq!(p.as_str(), "auto-renewable subscription");
}

#[test]
fn unknown_int_enum_value() {
    let s: Status = serde_json::from_str("9").unwrap();
    assert_eq!(s, Status::Unknown(9));
    assert!(!s.is_known());
    assert_eq!(s.value(), 9);
    assert_eq!(s.to_string(), "9");
    assert_eq!(serde_json::to_string(&s).unwrap(), "9");

    let o: OfferType = serde_json::from_str("-3").unwrap();
    assert_eq!(o, OfferType::Unknown(-3));
    assert!(!o.is_known());
    assert_eq!(serde_json::to_string(&o).unwrap(), "-3");

    let r: RevocationReason = serde_json::from_str("0").unwrap();
    assert_eq!(r, RevocationReason::RefundedForOtherReason);
    assert!(r.is_known());
}

#[test]
fn wrong_json_type_is_an_error() {
    assert!(serde_json::from_str::<Environment>("1").is_err());
    assert!(serde_json::from_str::<Environment>("null").is_err());
    assert!(serde_json::from_str::<Status>("\"1\"").is_err());
    assert!(serde_json::from_str::<Status>("1.5").is_err());
    assert!(serde_json::from_str::<Status>("18446744073709551615").is_err());
    assert!(serde_json::from_str::<NotificationPayload>(r#"{"notificationType": 5}"#).is_err());
}

#[test]
fn every_known_value_round_trips() {
    macro_rules! strings {
        ($($t:ty),+ $(,)?) => {$(
            for wire in <$t>::KNOWN_WIRE_VALUES {
                let v: $t = serde_json::from_value(Value::from(*wire)).unwrap();
                assert!(v.is_known(), "{wire}");
                assert_eq!(v.as_str(), *wire);
                assert_eq!(<$t>::from(*wire), v);
                assert_eq!(serde_json::to_value(&v).unwrap(), Value::from(*wire));
            }
        )+};
    }
    macro_rules! ints {
        ($($t:ty),+ $(,)?) => {$(
            for wire in <$t>::KNOWN_WIRE_VALUES {
                let v: $t = serde_json::from_value(Value::from(*wire)).unwrap();
                assert!(v.is_known(), "{wire}");
                assert_eq!(v.value(), *wire);
                assert_eq!(serde_json::to_value(v).unwrap(), Value::from(*wire));
            }
        )+};
    }
    strings!(
        Environment,
        NotificationType,
        Subtype,
        ProductType,
        InAppOwnershipType,
        TransactionReason,
        RevocationType,
        OfferDiscountType,
        BillingPlanType,
        ConsumptionRequestReason,
        TokenType,
        OriginalPlatform,
        SendAttemptResult,
        AdvancedCommerceOfferPeriod,
        AdvancedCommerceOfferReason,
        AdvancedCommerceRefundReason,
        AdvancedCommerceRefundType,
        AdvancedCommerceSubscriptionPeriod,
        AdvancedCommercePriceIncreaseStatus,
    );
    ints!(
        Status,
        RevocationReason,
        OfferType,
        ExpirationIntent,
        AutoRenewStatus,
        PriceIncreaseStatus,
    );
    // `KNOWN` lists the same variants as `KNOWN_WIRE_VALUES`, in the same order.
    let known: Vec<&str> = NotificationType::KNOWN.iter().map(|t| t.as_str()).collect();
    assert_eq!(known, NotificationType::KNOWN_WIRE_VALUES);
    let known: Vec<i64> = Status::KNOWN.iter().map(|s| s.value()).collect();
    assert_eq!(known, Status::KNOWN_WIRE_VALUES);
    assert_eq!(NotificationType::from("MIGRATE"), NotificationType::Migrate);
    assert_eq!(
        NotificationType::from("MIGRATION"),
        NotificationType::Migration
    );
    assert_eq!(
        SendAttemptResult::from("SSL_ISSUE"),
        SendAttemptResult::SslIssue
    );
}

#[test]
fn unknown_fields_and_values_are_kept() {
    let text = r#"{
        "notificationType": "BRAND_NEW_TYPE",
        "subtype": "BRAND_NEW_SUBTYPE",
        "notificationUUID": "u-1",
        "futureTopLevel": {"nested": [1, 2, 3]},
        "data": {
            "bundleId": "com.example",
            "environment": "Staging",
            "status": 42,
            "futureDataField": "x"
        },
        "version": "2.0",
        "signedDate": 1
    }"#;
    let p: NotificationPayload = round_trip(text);
    assert_eq!(
        p.notification_type,
        Some(NotificationType::Unknown("BRAND_NEW_TYPE".into()))
    );
    assert_eq!(
        p.subtype,
        Some(Subtype::Unknown("BRAND_NEW_SUBTYPE".into()))
    );
    assert_eq!(
        p.extra.get("futureTopLevel"),
        Some(&serde_json::json!({"nested": [1, 2, 3]}))
    );
    assert_eq!(p.extra.len(), 1);
    let data = p.data.as_ref().unwrap();
    assert_eq!(data.extra.get("futureDataField"), Some(&Value::from("x")));
    assert_eq!(data.status, Some(Status::Unknown(42)));
    assert_eq!(
        data.environment,
        Some(Environment::Unknown("Staging".into()))
    );
    assert_eq!(p.identity().environment.map(|e| e.is_known()), Some(false));

    // An unknown field inside a nested, repeated object is kept too.
    let t: TransactionInfo = round_trip(
        r#"{"type": "Subscription Bundle", "advancedCommerceInfo": {"items": [
            {"SKU": "a", "newThing": true, "refunds": [{"refundType": "PARTIAL", "x": null}]}
        ]}}"#,
    );
    assert_eq!(
        t.product_type,
        Some(ProductType::Unknown("Subscription Bundle".into()))
    );
    let item = &t.advanced_commerce_info.unwrap().items.unwrap()[0];
    assert_eq!(item.extra.get("newThing"), Some(&Value::Bool(true)));
    let refund = &item.refunds.as_ref().unwrap()[0];
    assert_eq!(
        refund.refund_type,
        Some(AdvancedCommerceRefundType::Unknown("PARTIAL".into()))
    );
    assert_eq!(refund.extra.get("x"), Some(&Value::Null));
}

#[test]
fn empty_object_round_trips() {
    let p: NotificationPayload = round_trip("{}");
    assert_eq!(p, NotificationPayload::default());
    assert_eq!(p.container_name(), None);
    assert_eq!(p.identity(), Identity::default());
}

#[test]
fn identity_per_container() {
    let data = NotificationData {
        bundle_id: Some("b.data".into()),
        app_apple_id: Some(1),
        environment: Some(Environment::Production),
        ..Default::default()
    };
    let summary = Summary {
        bundle_id: Some("b.summary".into()),
        app_apple_id: Some(2),
        environment: Some(Environment::Sandbox),
        ..Default::default()
    };
    let token = |id: Option<&str>| ExternalPurchaseToken {
        external_purchase_id: id.map(str::to_owned),
        bundle_id: Some("b.token".into()),
        app_apple_id: Some(3),
        ..Default::default()
    };
    let app_data = AppData {
        bundle_id: Some("b.app".into()),
        app_apple_id: None,
        environment: Some(Environment::Sandbox),
        ..Default::default()
    };

    let only_data = NotificationPayload {
        data: Some(data.clone()),
        ..Default::default()
    };
    assert_container(
        &only_data,
        "data",
        identity(Some("b.data"), Some(1), Some(Environment::Production)),
    );

    let only_summary = NotificationPayload {
        summary: Some(summary.clone()),
        ..Default::default()
    };
    assert_container(
        &only_summary,
        "summary",
        identity(Some("b.summary"), Some(2), Some(Environment::Sandbox)),
    );

    for (id, env) in [
        (Some("SANDBOX_abc"), Some(Environment::Sandbox)),
        (Some("SANDBOX"), Some(Environment::Sandbox)),
        (Some("sandbox_abc"), Some(Environment::Production)),
        (Some("abc-SANDBOX"), Some(Environment::Production)),
        (Some(""), Some(Environment::Production)),
        (None, None),
    ] {
        let p = NotificationPayload {
            external_purchase_token: Some(token(id)),
            ..Default::default()
        };
        assert_eq!(p.container_name(), Some("externalPurchaseToken"));
        assert_eq!(
            p.identity(),
            Identity {
                bundle_id: Some("b.token".into()),
                app_apple_id: Some(3),
                environment: env,
            },
            "externalPurchaseId {id:?}"
        );
    }

    let only_app_data = NotificationPayload {
        app_data: Some(app_data.clone()),
        ..Default::default()
    };
    assert_container(
        &only_app_data,
        "appData",
        identity(Some("b.app"), None, Some(Environment::Sandbox)),
    );

    // Several containers (not expected from Apple): the first in the fixed order wins.
    let all = NotificationPayload {
        data: None,
        summary: Some(summary),
        external_purchase_token: Some(token(Some("SANDBOX_1"))),
        app_data: Some(app_data),
        ..Default::default()
    };
    assert_eq!(all.container_name(), Some("summary"));
    assert_eq!(all.identity().bundle_id.as_deref(), Some("b.summary"));
    let all_with_data = NotificationPayload {
        data: Some(data),
        ..all
    };
    assert_eq!(all_with_data.container_name(), Some("data"));
    assert_eq!(
        all_with_data.identity().bundle_id.as_deref(),
        Some("b.data")
    );
}

mod properties {
    use super::super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    proptest! {
        #[test]
        fn any_string_round_trips_through_string_enums(raw in ".*") {
            let json = Value::from(raw.clone());
            let v: NotificationType = serde_json::from_value(json.clone()).unwrap();
            prop_assert_eq!(v.as_str(), raw.as_str());
            prop_assert_eq!(
                v.is_known(),
                NotificationType::KNOWN_WIRE_VALUES.contains(&raw.as_str())
            );
            prop_assert_eq!(serde_json::to_value(&v).unwrap(), json.clone());
            let p: ProductType = serde_json::from_value(json.clone()).unwrap();
            prop_assert_eq!(serde_json::to_value(&p).unwrap(), json);
        }

        #[test]
        fn any_i64_round_trips_through_int_enums(raw in any::<i64>()) {
            let v: Status = serde_json::from_value(Value::from(raw)).unwrap();
            prop_assert_eq!(v.value(), raw);
            prop_assert_eq!(v.is_known(), (1..=5).contains(&raw));
            prop_assert_eq!(serde_json::to_value(v).unwrap(), Value::from(raw));
            let text = raw.to_string();
            let e: ExpirationIntent = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(serde_json::to_string(&e).unwrap(), text);
        }
    }
}
