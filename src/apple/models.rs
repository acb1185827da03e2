//! Typed models of the JSON that Apple sends: the decoded V2 notification payload
//! (`responseBodyV2DecodedPayload`) with its containers, the decoded transaction, renewal info and
//! app transaction, and the App Store Server API responses a receiver uses (notification history,
//! test notifications).
//!
//! Design rules, so that nothing Apple sends is ever lost or rejected:
//! - every field is an `Option`, absent fields stay absent when encoding again;
//! - every struct keeps fields it does not know in `extra` (a flattened JSON map);
//! - every enum is open: a value this version does not know decodes to `Unknown(raw)`, is encoded
//!   back unchanged and reports `is_known() == false`.
//!
//! So decoding a payload and encoding it again gives the same JSON value (key order aside; an
//! explicit `null` for a known field is the one thing not kept: it decodes as absent).
//!
//! Dates are `i64` milliseconds since the UNIX epoch; prices are `i64` milliunits.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Open enums
// ---------------------------------------------------------------------------------------------

/// Declares an open enum whose wire form is a JSON string.
///
/// Each known variant is given with its exact wire value (`Variant => "WIRE"`); the macro adds an
/// `Unknown(String)` variant that keeps any other string. Generated: `as_str`, `is_known`,
/// `KNOWN_WIRE_VALUES`, `From<&str>`, `From<String>`, `Display`, `Serialize` and `Deserialize`.
/// A JSON value that is not a string is a decoding error.
macro_rules! open_string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* #[doc = concat!("Wire value `", $wire, "`.")] $variant, )+
            /// A value this version does not know; the raw wire string is kept unchanged.
            Unknown(String),
        }

        impl $name {
            /// The wire values of the known variants, in declaration order.
            pub const KNOWN_WIRE_VALUES: &'static [&'static str] = &[$($wire),+];

            /// The exact wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(raw) => raw.as_str(),
                }
            }

            /// `false` only for `Unknown(_)`.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                match raw {
                    $( $wire => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                match raw.as_str() {
                    $( $wire => Self::$variant, )+
                    _ => Self::Unknown(raw),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct WireVisitor;

                impl ::serde::de::Visitor<'_> for WireVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a string (", stringify!($name), ")"))
                    }

                    fn visit_str<E: ::serde::de::Error>(self, raw: &str) -> Result<$name, E> {
                        Ok($name::from(raw))
                    }

                    fn visit_string<E: ::serde::de::Error>(self, raw: String) -> Result<$name, E> {
                        Ok($name::from(raw))
                    }
                }

                deserializer.deserialize_str(WireVisitor)
            }
        }
    };
}

/// Declares an open enum whose wire form is a JSON integer.
///
/// Each known variant is given with its exact wire value (`Variant => 1`); the macro adds an
/// `Unknown(i64)` variant that keeps any other integer. Generated: `value`, `is_known`,
/// `KNOWN_WIRE_VALUES`, `From<i64>`, `Display`, `Serialize` and `Deserialize`. A JSON value that
/// is not an integer fitting in `i64` is a decoding error.
macro_rules! open_int_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* #[doc = concat!("Wire value `", stringify!($wire), "`.")] $variant, )+
            /// A value this version does not know; the raw wire integer is kept unchanged.
            Unknown(i64),
        }

        impl $name {
            /// The wire values of the known variants, in declaration order.
            pub const KNOWN_WIRE_VALUES: &'static [i64] = &[$($wire),+];

            /// The exact wire value.
            pub fn value(&self) -> i64 {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(raw) => *raw,
                }
            }

            /// `false` only for `Unknown(_)`.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                match raw {
                    $( $wire => Self::$variant, )+
                    other => Self::Unknown(other),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}", self.value())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_i64(self.value())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct WireVisitor;

                impl ::serde::de::Visitor<'_> for WireVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("an integer (", stringify!($name), ")"))
                    }

                    fn visit_i64<E: ::serde::de::Error>(self, raw: i64) -> Result<$name, E> {
                        Ok($name::from(raw))
                    }

                    fn visit_u64<E: ::serde::de::Error>(self, raw: u64) -> Result<$name, E> {
                        i64::try_from(raw).map($name::from).map_err(|_| {
                            E::invalid_value(::serde::de::Unexpected::Unsigned(raw), &self)
                        })
                    }
                }

                deserializer.deserialize_i64(WireVisitor)
            }
        }
    };
}

open_string_enum! {
    /// `environment` (§10.1); also `receiptType` of an app transaction.
    pub enum Environment {
        Sandbox => "Sandbox",
        Production => "Production",
        /// StoreKit Testing in Xcode (test data only).
        Xcode => "Xcode",
        /// Local testing (test data only).
        LocalTesting => "LocalTesting",
    }
}

open_string_enum! {
    /// `notificationType` of a V2 notification (§6.1).
    pub enum NotificationType {
        ConsumptionRequest => "CONSUMPTION_REQUEST",
        DidChangeRenewalPref => "DID_CHANGE_RENEWAL_PREF",
        DidChangeRenewalStatus => "DID_CHANGE_RENEWAL_STATUS",
        DidFailToRenew => "DID_FAIL_TO_RENEW",
        DidRenew => "DID_RENEW",
        Expired => "EXPIRED",
        ExternalPurchaseToken => "EXTERNAL_PURCHASE_TOKEN",
        GracePeriodExpired => "GRACE_PERIOD_EXPIRED",
        /// Advanced Commerce API.
        MetadataUpdate => "METADATA_UPDATE",
        /// Advanced Commerce API (spelling of the reference page and the libraries).
        Migration => "MIGRATION",
        /// Advanced Commerce API (spelling of Apple's changelog); same meaning as `Migration`.
        Migrate => "MIGRATE",
        OfferRedeemed => "OFFER_REDEEMED",
        OneTimeCharge => "ONE_TIME_CHARGE",
        /// Advanced Commerce API.
        PriceChange => "PRICE_CHANGE",
        PriceIncrease => "PRICE_INCREASE",
        Refund => "REFUND",
        RefundDeclined => "REFUND_DECLINED",
        RefundReversed => "REFUND_REVERSED",
        RenewalExtended => "RENEWAL_EXTENDED",
        RenewalExtension => "RENEWAL_EXTENSION",
        RescindConsent => "RESCIND_CONSENT",
        Revoke => "REVOKE",
        Subscribed => "SUBSCRIBED",
        Test => "TEST",
    }
}

open_string_enum! {
    /// `subtype` of a V2 notification (§6.2).
    pub enum Subtype {
        InitialBuy => "INITIAL_BUY",
        Resubscribe => "RESUBSCRIBE",
        Downgrade => "DOWNGRADE",
        Upgrade => "UPGRADE",
        AutoRenewEnabled => "AUTO_RENEW_ENABLED",
        AutoRenewDisabled => "AUTO_RENEW_DISABLED",
        Voluntary => "VOLUNTARY",
        BillingRetry => "BILLING_RETRY",
        PriceIncrease => "PRICE_INCREASE",
        ProductNotForSale => "PRODUCT_NOT_FOR_SALE",
        GracePeriod => "GRACE_PERIOD",
        BillingRecovery => "BILLING_RECOVERY",
        Pending => "PENDING",
        Accepted => "ACCEPTED",
        Summary => "SUMMARY",
        Failure => "FAILURE",
        Unreported => "UNREPORTED",
        ActiveTokenReminder => "ACTIVE_TOKEN_REMINDER",
        Created => "CREATED",
    }
}

open_int_enum! {
    /// `data.status`: subscription status (§10.2).
    pub enum Status {
        Active => 1,
        Expired => 2,
        BillingRetry => 3,
        BillingGracePeriod => 4,
        Revoked => 5,
    }
}

open_string_enum! {
    /// Transaction `type`: product type (§10.3).
    pub enum ProductType {
        AutoRenewableSubscription => "Auto-Renewable Subscription",
        NonConsumable => "Non-Consumable",
        Consumable => "Consumable",
        NonRenewingSubscription => "Non-Renewing Subscription",
    }
}

open_string_enum! {
    /// `inAppOwnershipType` (§10.4).
    pub enum InAppOwnershipType {
        Purchased => "PURCHASED",
        FamilyShared => "FAMILY_SHARED",
        /// Access through an organization/group purchase (newer docs; date unconfirmed).
        Assigned => "ASSIGNED",
    }
}

open_string_enum! {
    /// `transactionReason` (§10.5).
    pub enum TransactionReason {
        Purchase => "PURCHASE",
        Renewal => "RENEWAL",
    }
}

open_int_enum! {
    /// `revocationReason` (§10.6).
    pub enum RevocationReason {
        /// Refunded for another reason, e.g. an accidental purchase.
        RefundedForOtherReason => 0,
        /// Refunded because of an actual or perceived issue within the app.
        RefundedDueToIssue => 1,
    }
}

open_string_enum! {
    /// `revocationType` (§10.7).
    pub enum RevocationType {
        RefundFull => "REFUND_FULL",
        /// See `revocationPercentage`.
        RefundProrated => "REFUND_PRORATED",
        FamilyRevoke => "FAMILY_REVOKE",
        /// The organization/group purchaser removed the subscription (newer docs; unconfirmed).
        AssignmentRevoke => "ASSIGNMENT_REVOKE",
    }
}

open_int_enum! {
    /// `offerType` (§10.8).
    pub enum OfferType {
        IntroductoryOffer => 1,
        PromotionalOffer => 2,
        OfferCode => 3,
        WinBackOffer => 4,
    }
}

open_string_enum! {
    /// `offerDiscountType` (§10.9).
    pub enum OfferDiscountType {
        FreeTrial => "FREE_TRIAL",
        PayAsYouGo => "PAY_AS_YOU_GO",
        PayUpFront => "PAY_UP_FRONT",
        /// In-App Purchase offer codes.
        OneTime => "ONE_TIME",
    }
}

open_int_enum! {
    /// `expirationIntent` (§10.10).
    pub enum ExpirationIntent {
        CustomerCancelled => 1,
        BillingError => 2,
        CustomerDidNotConsentToPriceIncrease => 3,
        ProductNotAvailable => 4,
        Other => 5,
    }
}

open_int_enum! {
    /// `autoRenewStatus` / `commitmentAutoRenewStatus` (§10.11).
    pub enum AutoRenewStatus {
        Off => 0,
        On => 1,
    }
}

open_int_enum! {
    /// `priceIncreaseStatus` of renewal info (§10.12).
    pub enum PriceIncreaseStatus {
        /// The customer hasn't responded to a price increase that needs consent.
        CustomerHasNotResponded => 0,
        /// The customer consented, or was notified of an increase that doesn't need consent.
        CustomerConsentedOrWasNotified => 1,
    }
}

open_string_enum! {
    /// `billingPlanType` / `renewalBillingPlanType` / `commitmentRenewalBillingPlanType` (§10.13).
    pub enum BillingPlanType {
        BilledUpfront => "BILLED_UPFRONT",
        /// Monthly payments with a 12-month commitment.
        Monthly => "MONTHLY",
    }
}

open_string_enum! {
    /// `data.consumptionRequestReason` (§10.14).
    pub enum ConsumptionRequestReason {
        UnintendedPurchase => "UNINTENDED_PURCHASE",
        FulfillmentIssue => "FULFILLMENT_ISSUE",
        UnsatisfiedWithPurchase => "UNSATISFIED_WITH_PURCHASE",
        Legal => "LEGAL",
        Other => "OTHER",
    }
}

open_string_enum! {
    /// `externalPurchaseToken.tokenType` (§10.15). Other StoreKit token types (`IN_APP`,
    /// `LINK_OUT`) are not confirmed in notifications and decode as `Unknown`.
    pub enum TokenType {
        Acquisition => "ACQUISITION",
        Services => "SERVICES",
    }
}

open_string_enum! {
    /// `originalPlatform` of an app transaction (§10.16).
    pub enum OriginalPlatform {
        Ios => "iOS",
        MacOs => "macOS",
        TvOs => "tvOS",
        VisionOs => "visionOS",
    }
}

open_string_enum! {
    /// `sendAttemptResult` of the App Store Server API (§10.17).
    pub enum SendAttemptResult {
        Success => "SUCCESS",
        TimedOut => "TIMED_OUT",
        TlsIssue => "TLS_ISSUE",
        CircularRedirect => "CIRCULAR_REDIRECT",
        NoResponse => "NO_RESPONSE",
        SocketIssue => "SOCKET_ISSUE",
        UnsupportedCharset => "UNSUPPORTED_CHARSET",
        InvalidResponse => "INVALID_RESPONSE",
        PrematureClose => "PREMATURE_CLOSE",
        UnsuccessfulHttpResponseCode => "UNSUCCESSFUL_HTTP_RESPONSE_CODE",
        Other => "OTHER",
        /// Deprecated since 2022-08, replaced by `TLS_ISSUE`.
        SslIssue => "SSL_ISSUE",
    }
}

open_string_enum! {
    /// Advanced Commerce `offer.period` (§7.1).
    pub enum AdvancedCommerceOfferPeriod {
        P3D => "P3D",
        P1W => "P1W",
        P2W => "P2W",
        P1M => "P1M",
        P2M => "P2M",
        P3M => "P3M",
        P6M => "P6M",
        P9M => "P9M",
        P1Y => "P1Y",
    }
}

open_string_enum! {
    /// Advanced Commerce `offer.reason` (§7.1).
    pub enum AdvancedCommerceOfferReason {
        Acquisition => "ACQUISITION",
        WinBack => "WIN_BACK",
        Retention => "RETENTION",
    }
}

open_string_enum! {
    /// Advanced Commerce `refunds[].refundReason` (§7.1).
    pub enum AdvancedCommerceRefundReason {
        UnintendedPurchase => "UNINTENDED_PURCHASE",
        FulfillmentIssue => "FULFILLMENT_ISSUE",
        UnsatisfiedWithPurchase => "UNSATISFIED_WITH_PURCHASE",
        Legal => "LEGAL",
        Other => "OTHER",
        ModifyItemsRefund => "MODIFY_ITEMS_REFUND",
        SimulateRefundDecline => "SIMULATE_REFUND_DECLINE",
    }
}

open_string_enum! {
    /// Advanced Commerce `refunds[].refundType` (§7.1).
    pub enum AdvancedCommerceRefundType {
        Full => "FULL",
        Prorated => "PRORATED",
        Custom => "CUSTOM",
    }
}

open_string_enum! {
    /// Advanced Commerce subscription `period` (§7.1, §8.1).
    pub enum AdvancedCommerceSubscriptionPeriod {
        P1W => "P1W",
        P1M => "P1M",
        P2M => "P2M",
        P3M => "P3M",
        P6M => "P6M",
        P1Y => "P1Y",
    }
}

open_string_enum! {
    /// Advanced Commerce `priceIncreaseInfo.status` (§8.1).
    pub enum AdvancedCommercePriceIncreaseStatus {
        Scheduled => "SCHEDULED",
        Pending => "PENDING",
        Accepted => "ACCEPTED",
    }
}

// ---------------------------------------------------------------------------------------------
// Notification payload (§4) and its containers (§5)
// ---------------------------------------------------------------------------------------------

/// `responseBodyV2DecodedPayload`: the decoded `signedPayload` of a V2 notification (§4).
///
/// Exactly one of `data`, `summary`, `external_purchase_token`, `app_data` is expected.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<NotificationType>,
    /// Absent (not empty) when the type has no subtype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<Subtype>,
    /// Unique per notification, identical across retries.
    #[serde(
        rename = "notificationUUID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub notification_uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<NotificationData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_purchase_token: Option<ExternalPurchaseToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_data: Option<AppData>,
    /// Normally `"2.0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Milliseconds; missing in some very old payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_date: Option<i64>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Which app and environment a notification is about, taken from its container.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Identity {
    pub bundle_id: Option<String>,
    pub app_apple_id: Option<i64>,
    pub environment: Option<Environment>,
}

impl NotificationPayload {
    /// The JSON name of the container present, checked in the order `data`, `summary`,
    /// `externalPurchaseToken`, `appData`; `None` when there is none.
    pub fn container_name(&self) -> Option<&'static str> {
        if self.data.is_some() {
            Some("data")
        } else if self.summary.is_some() {
            Some("summary")
        } else if self.external_purchase_token.is_some() {
            Some("externalPurchaseToken")
        } else if self.app_data.is_some() {
            Some("appData")
        } else {
            None
        }
    }

    /// Bundle id, app Apple id and environment of the first container present (same order as
    /// [`Self::container_name`]). For `externalPurchaseToken` the environment is derived from the
    /// `SANDBOX` prefix of `externalPurchaseId`. All `None` when there is no container.
    pub fn identity(&self) -> Identity {
        if let Some(data) = &self.data {
            Identity {
                bundle_id: data.bundle_id.clone(),
                app_apple_id: data.app_apple_id,
                environment: data.environment.clone(),
            }
        } else if let Some(summary) = &self.summary {
            Identity {
                bundle_id: summary.bundle_id.clone(),
                app_apple_id: summary.app_apple_id,
                environment: summary.environment.clone(),
            }
        } else if let Some(token) = &self.external_purchase_token {
            Identity {
                bundle_id: token.bundle_id.clone(),
                app_apple_id: token.app_apple_id,
                environment: token.environment(),
            }
        } else if let Some(app_data) = &self.app_data {
            Identity {
                bundle_id: app_data.bundle_id.clone(),
                app_apple_id: app_data.app_apple_id,
                environment: app_data.environment.clone(),
            }
        } else {
            Identity::default()
        }
    }
}

/// `data` container (§5.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationData {
    /// Optional, also in sandbox; compare only in Production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_apple_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// JWS of a [`TransactionInfo`]; absent for `TEST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_transaction_info: Option<String>,
    /// JWS of a [`RenewalInfo`]; auto-renewable subscriptions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_renewal_info: Option<String>,
    /// Auto-renewable subscriptions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// `CONSUMPTION_REQUEST` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumption_request_reason: Option<ConsumptionRequestReason>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `summary` container of `RENEWAL_EXTENSION` / `SUMMARY` (§5.2).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_apple_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_identifier: Option<String>,
    /// ISO 3166-1 alpha-3 codes; absent = all storefronts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storefront_country_codes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_count: Option<i64>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `externalPurchaseToken` container of `EXTERNAL_PURCHASE_TOKEN` (§5.3). It has no
/// `environment` field: see [`ExternalPurchaseToken::environment`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalPurchaseToken {
    /// Sandbox tokens start with `SANDBOX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_purchase_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_creation_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_apple_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// Custom-link tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expiration_date: Option<i64>,
    /// Custom-link tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenType>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ExternalPurchaseToken {
    /// The environment derived as Apple's libraries do: `Sandbox` when `externalPurchaseId`
    /// starts with `SANDBOX`, otherwise `Production`; `None` without `externalPurchaseId`.
    pub fn environment(&self) -> Option<Environment> {
        self.external_purchase_id.as_deref().map(|id| {
            if id.starts_with("SANDBOX") {
                Environment::Sandbox
            } else {
                Environment::Production
            }
        })
    }
}

/// `appData` container of `RESCIND_CONSENT` (§5.4).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_apple_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// JWS of an [`AppTransaction`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_app_transaction_info: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// Transaction (§7)
// ---------------------------------------------------------------------------------------------

/// `JWSTransactionDecodedPayload`: the decoded `signedTransactionInfo` (§7).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_transaction_id: Option<String>,
    /// Original transaction id before an Advanced Commerce migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_original_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_order_line_item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_group_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_purchase_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i32>,
    /// JSON name `type`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<ProductType>,
    /// UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_account_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app_ownership_type: Option<InAppOwnershipType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<RevocationReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_type: Option<RevocationType>,
    /// Milliunits of the refunded share, 0–100000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_percentage: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_upgraded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_type: Option<OfferType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_discount_type: Option<OfferDiscountType>,
    /// ISO 8601 duration, e.g. `P1M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// ISO 3166-1 alpha-3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storefront: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storefront_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_reason: Option<TransactionReason>,
    /// Milliunits; not for revenue accounting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// ISO 4217.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_commerce_info: Option<AdvancedCommerceTransactionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_plan_type: Option<BillingPlanType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_info: Option<TransactionCommitmentInfo>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `descriptors` of Advanced Commerce info (§7.1, §8.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedCommerceDescriptors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[].offer` of Advanced Commerce info (§7.1, §8.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedCommerceOffer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_count: Option<i32>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<AdvancedCommerceOfferPeriod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<AdvancedCommerceOfferReason>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[].refunds[]` of an Advanced Commerce transaction (§7.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedCommerceRefund {
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_reason: Option<AdvancedCommerceRefundReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_type: Option<AdvancedCommerceRefundType>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[]` of an Advanced Commerce transaction (§7.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedCommerceTransactionItem {
    #[serde(rename = "SKU", default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<AdvancedCommerceOffer>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<AdvancedCommerceRefund>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_date: Option<i64>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `advancedCommerceInfo` of a transaction (`AdvancedCommerceTransactionInfo`, §7.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedCommerceTransactionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptors: Option<AdvancedCommerceDescriptors>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_tax: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<AdvancedCommerceTransactionItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<AdvancedCommerceSubscriptionPeriod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_reference_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<String>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_exclusive_price: Option<i64>,
    /// Decimal as a string, e.g. `"0.15"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `commitmentInfo` of a transaction (`TransactionCommitmentInfo`, §7.2).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionCommitmentInfo {
    /// Which billing period of the commitment this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_period_number: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_expires_date: Option<i64>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_billing_periods: Option<i32>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// Renewal info (§8)
// ---------------------------------------------------------------------------------------------

/// `JWSRenewalInfoDecodedPayload`: the decoded `signedRenewalInfo` (§8). Has no `bundleId`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_renew_product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_renew_status: Option<AutoRenewStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_intent: Option<ExpirationIntent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_in_billing_retry_period: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_expires_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_increase_status: Option<PriceIncreaseStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_type: Option<OfferType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_discount_type: Option<OfferDiscountType>,
    /// ISO 8601 duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_subscription_start_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_date: Option<i64>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_price: Option<i64>,
    /// ISO 4217 of `renewal_price`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible_win_back_offer_ids: Option<Vec<String>>,
    /// UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_account_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_commerce_info: Option<AdvancedCommerceRenewalInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_info: Option<RenewalCommitmentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_billing_plan_type: Option<BillingPlanType>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[].priceIncreaseInfo` of Advanced Commerce renewal info (§8.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedCommercePriceIncreaseInfo {
    #[serde(
        rename = "dependentSKUs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dependent_skus: Option<Vec<String>>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AdvancedCommercePriceIncreaseStatus>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[]` of Advanced Commerce renewal info (§8.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedCommerceRenewalItem {
    #[serde(rename = "SKU", default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<AdvancedCommerceOffer>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_increase_info: Option<AdvancedCommercePriceIncreaseInfo>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `advancedCommerceInfo` of renewal info (`AdvancedCommerceRenewalInfo`, §8.1).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedCommerceRenewalInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptors: Option<AdvancedCommerceDescriptors>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<AdvancedCommerceRenewalItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<AdvancedCommerceSubscriptionPeriod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_reference_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `commitmentInfo` of renewal info (`RenewalCommitmentInfo`, §8.2).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalCommitmentInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_auto_renew_product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_auto_renew_status: Option<AutoRenewStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_renewal_billing_plan_type: Option<BillingPlanType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_renewal_date: Option<i64>,
    /// Milliunits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_renewal_price: Option<i64>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// App transaction (§9)
// ---------------------------------------------------------------------------------------------

/// `JWSAppTransactionDecodedPayload`: the decoded `appData.signedAppTransactionInfo` (§9).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppTransaction {
    /// The environment (note the field name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_type: Option<Environment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_apple_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_external_identifier: Option<i64>,
    /// Signing time; the verification date instead of `signedDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_creation_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_purchase_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_application_version: Option<String>,
    /// Base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_verification: Option<String>,
    /// UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_verification_nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preorder_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_platform: Option<OriginalPlatform>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// App Store Server API (§14.3–§14.5)
// ---------------------------------------------------------------------------------------------

/// One delivery attempt (`SendAttemptItem`, §14.4/§14.5).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendAttempt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_attempt_result: Option<SendAttemptResult>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of a Get Notification History request (`NotificationHistoryRequest`, §14.5).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationHistoryRequest {
    /// Required by Apple; milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<i64>,
    /// Required by Apple; milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<NotificationType>,
    /// Requires `notification_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_subtype: Option<Subtype>,
    /// Do not combine with `notification_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_failures: Option<bool>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Response of Get Notification History (`NotificationHistoryResponse`, §14.5).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationHistoryResponse {
    /// At most 20 per page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_history: Option<Vec<NotificationHistoryItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
    /// Pass as the `paginationToken` query parameter, with the same body, for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `notificationHistory` (§14.5).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationHistoryItem {
    /// The notification JWS as it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_payload: Option<String>,
    /// At most 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_attempts: Option<Vec<SendAttempt>>,
    /// Deprecated: use `send_attempts[0]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_send_attempt_result: Option<SendAttemptResult>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Response of Get Test Notification Status (`CheckTestNotificationResponse`, §14.4).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckTestNotificationResponse {
    /// The `TEST` notification JWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_payload: Option<String>,
    /// At most 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_attempts: Option<Vec<SendAttempt>>,
    /// Deprecated: use `send_attempts[0]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_send_attempt_result: Option<SendAttemptResult>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Response of Request a Test Notification (`SendTestNotificationResponse`, §14.3).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendTestNotificationResponse {
    /// Usable with Get Test Notification Status for up to 6 months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_notification_token: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
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

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                "../../tests/fixtures/apple-models/",
                $name,
                ".json"
            ))
        };
    }

    #[test]
    fn signed_notification() {
        let p: NotificationPayload = round_trip(fixture!("signedNotification"));
        assert!(p.extra.is_empty());
        assert_eq!(p.notification_type, Some(NotificationType::Subscribed));
        assert_eq!(p.subtype, Some(Subtype::InitialBuy));
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
        assert_eq!(p.container_name(), Some("data"));
        assert_eq!(
            p.identity(),
            Identity {
                bundle_id: Some("com.example".into()),
                app_apple_id: Some(41234),
                environment: Some(Environment::LocalTesting),
            }
        );
    }

    #[test]
    fn consumption_request_notification() {
        let p: NotificationPayload = round_trip(fixture!("signedConsumptionRequestNotification"));
        assert!(p.extra.is_empty());
        assert_eq!(
            p.notification_type,
            Some(NotificationType::ConsumptionRequest)
        );
        assert_eq!(p.subtype, None);
        let data = p.data.expect("data");
        assert!(data.extra.is_empty());
        assert_eq!(
            data.consumption_request_reason,
            Some(ConsumptionRequestReason::UnintendedPurchase)
        );
    }

    #[test]
    fn external_purchase_token_notification() {
        let p: NotificationPayload =
            round_trip(fixture!("signedExternalPurchaseTokenNotification"));
        assert!(p.extra.is_empty());
        assert_eq!(
            p.notification_type,
            Some(NotificationType::ExternalPurchaseToken)
        );
        assert_eq!(p.subtype, Some(Subtype::Unreported));
        let token = p.external_purchase_token.as_ref().expect("token");
        assert!(token.extra.is_empty());
        assert_eq!(token.token_creation_date, Some(1698148950000));
        assert_eq!(p.container_name(), Some("externalPurchaseToken"));
        assert_eq!(
            p.identity(),
            Identity {
                bundle_id: Some("com.example".into()),
                app_apple_id: Some(55555),
                environment: Some(Environment::Production),
            }
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
        let p: NotificationPayload = round_trip(fixture!("signedRescindConsentNotification"));
        assert!(p.extra.is_empty());
        assert_eq!(p.notification_type, Some(NotificationType::RescindConsent));
        let app_data = p.app_data.as_ref().expect("appData");
        assert!(app_data.extra.is_empty());
        assert_eq!(
            app_data.signed_app_transaction_info.as_deref(),
            Some("signed_app_transaction_info_value")
        );
        assert_eq!(p.container_name(), Some("appData"));
        assert_eq!(
            p.identity(),
            Identity {
                bundle_id: Some("com.example".into()),
                app_apple_id: Some(41234),
                environment: Some(Environment::LocalTesting),
            }
        );
    }

    #[test]
    fn summary_notification() {
        let p: NotificationPayload = round_trip(fixture!("signedSummaryNotification"));
        assert!(p.extra.is_empty());
        assert_eq!(
            p.notification_type,
            Some(NotificationType::RenewalExtension)
        );
        assert_eq!(p.subtype, Some(Subtype::Summary));
        let summary = p.summary.as_ref().expect("summary");
        assert!(summary.extra.is_empty());
        assert_eq!(summary.succeeded_count, Some(5));
        assert_eq!(summary.failed_count, Some(2));
        assert_eq!(
            summary.storefront_country_codes.as_deref(),
            Some(&["CAN".to_owned(), "USA".to_owned(), "MEX".to_owned()][..])
        );
        assert_eq!(p.container_name(), Some("summary"));
        assert_eq!(
            p.identity(),
            Identity {
                bundle_id: Some("com.example".into()),
                app_apple_id: Some(41234),
                environment: Some(Environment::LocalTesting),
            }
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
        let s: SendTestNotificationResponse =
            round_trip(fixture!("requestTestNotificationResponse"));
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
        assert_eq!(only_data.container_name(), Some("data"));
        assert_eq!(
            only_data.identity(),
            Identity {
                bundle_id: Some("b.data".into()),
                app_apple_id: Some(1),
                environment: Some(Environment::Production),
            }
        );

        let only_summary = NotificationPayload {
            summary: Some(summary.clone()),
            ..Default::default()
        };
        assert_eq!(only_summary.container_name(), Some("summary"));
        assert_eq!(
            only_summary.identity(),
            Identity {
                bundle_id: Some("b.summary".into()),
                app_apple_id: Some(2),
                environment: Some(Environment::Sandbox),
            }
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
        assert_eq!(only_app_data.container_name(), Some("appData"));
        assert_eq!(
            only_app_data.identity(),
            Identity {
                bundle_id: Some("b.app".into()),
                app_apple_id: None,
                environment: Some(Environment::Sandbox),
            }
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
}
