//! Typed models of the JSON that Apple sends: the decoded V2 notification payload
//! (`responseBodyV2DecodedPayload`) with its containers, the decoded transaction, renewal info and
//! app transaction, and the App Store Server API responses a receiver uses (notification history,
//! test notifications).
//!
//! Design rules, so that nothing Apple sends is ever lost or rejected:
//! - every field is an `Option`: absent fields decode as `None` and stay absent when encoding
//!   again (one `#[serde(default)]` and one `#[skip_serializing_none]` per struct say so);
//! - every struct keeps fields it does not know in `extra` (a flattened JSON map);
//! - every enum is open: a value this version does not know decodes to `Unknown(raw)`, is encoded
//!   back unchanged and reports `is_known() == false`.
//!
//! So decoding a payload and encoding it again gives the same JSON value (key order aside; an
//! explicit `null` for a known field is the one thing not kept: it decodes as absent).
//!
//! Dates are `i64` milliseconds since the UNIX epoch; prices are `i64` milliunits.
//!
//! One file per payload: `notification` (the decoded V2 notification and its containers),
//! `transaction`, `renewal`, `app_transaction`, `server_api` (App Store Server API bodies); the
//! open enums they share are in `enums`, declared with the macro of `open_enum`.

mod app_transaction;
mod enums;
mod notification;
mod open_enum;
mod renewal;
mod server_api;
mod transaction;

#[cfg(test)]
mod tests;

pub use app_transaction::AppTransaction;
pub use enums::{
    AdvancedCommerceOfferPeriod, AdvancedCommerceOfferReason, AdvancedCommercePriceIncreaseStatus,
    AdvancedCommerceRefundReason, AdvancedCommerceRefundType, AdvancedCommerceSubscriptionPeriod,
    AutoRenewStatus, BillingPlanType, ConsumptionRequestReason, Environment, ExpirationIntent,
    InAppOwnershipType, NotificationType, OfferDiscountType, OfferType, OriginalPlatform,
    PriceIncreaseStatus, ProductType, RevocationReason, RevocationType, SendAttemptResult, Status,
    Subtype, TokenType, TransactionReason,
};
pub use notification::{
    AppData, ExternalPurchaseToken, Identity, NotificationData, NotificationPayload, Summary,
};
pub use renewal::{
    AdvancedCommercePriceIncreaseInfo, AdvancedCommerceRenewalInfo, AdvancedCommerceRenewalItem,
    RenewalCommitmentInfo, RenewalInfo,
};
pub use server_api::{
    CheckTestNotificationResponse, NotificationHistoryItem, NotificationHistoryRequest,
    NotificationHistoryResponse, SendAttempt, SendTestNotificationResponse,
};
pub use transaction::{
    AdvancedCommerceDescriptors, AdvancedCommerceOffer, AdvancedCommerceRefund,
    AdvancedCommerceTransactionInfo, AdvancedCommerceTransactionItem, TransactionCommitmentInfo,
    TransactionInfo,
};
