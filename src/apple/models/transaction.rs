//! The decoded transaction, `JWSTransactionDecodedPayload`, with its Advanced Commerce and
//! commitment parts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::skip_serializing_none;

use super::{
    AdvancedCommerceOfferPeriod, AdvancedCommerceOfferReason, AdvancedCommerceRefundReason,
    AdvancedCommerceRefundType, AdvancedCommerceSubscriptionPeriod, BillingPlanType, Environment,
    InAppOwnershipType, OfferDiscountType, OfferType, ProductType, RevocationReason,
    RevocationType, TransactionReason,
};

/// `JWSTransactionDecodedPayload`: the decoded `signedTransactionInfo`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TransactionInfo {
    pub transaction_id: Option<String>,
    pub original_transaction_id: Option<String>,
    /// Original transaction id before an Advanced Commerce migration.
    pub previous_original_transaction_id: Option<String>,
    pub web_order_line_item_id: Option<String>,
    pub bundle_id: Option<String>,
    pub product_id: Option<String>,
    pub subscription_group_identifier: Option<String>,
    pub purchase_date: Option<i64>,
    pub original_purchase_date: Option<i64>,
    pub expires_date: Option<i64>,
    pub quantity: Option<i64>,
    /// JSON name `type`.
    #[serde(rename = "type")]
    pub product_type: Option<ProductType>,
    /// UUID.
    pub app_account_token: Option<String>,
    pub in_app_ownership_type: Option<InAppOwnershipType>,
    pub signed_date: Option<i64>,
    pub revocation_reason: Option<RevocationReason>,
    pub revocation_date: Option<i64>,
    pub revocation_type: Option<RevocationType>,
    /// Milliunits of the refunded share, 0–100000.
    pub revocation_percentage: Option<i64>,
    pub is_upgraded: Option<bool>,
    pub offer_type: Option<OfferType>,
    pub offer_identifier: Option<String>,
    pub offer_discount_type: Option<OfferDiscountType>,
    /// ISO 8601 duration, e.g. `P1M`.
    pub offer_period: Option<String>,
    pub environment: Option<Environment>,
    /// ISO 3166-1 alpha-3.
    pub storefront: Option<String>,
    pub storefront_id: Option<String>,
    pub transaction_reason: Option<TransactionReason>,
    /// Milliunits; not for revenue accounting.
    pub price: Option<i64>,
    /// ISO 4217.
    pub currency: Option<String>,
    pub app_transaction_id: Option<String>,
    pub advanced_commerce_info: Option<AdvancedCommerceTransactionInfo>,
    pub billing_plan_type: Option<BillingPlanType>,
    pub commitment_info: Option<TransactionCommitmentInfo>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `descriptors` of Advanced Commerce info.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdvancedCommerceDescriptors {
    pub description: Option<String>,
    pub display_name: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[].offer` of Advanced Commerce info.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdvancedCommerceOffer {
    pub period_count: Option<i64>,
    /// Milliunits.
    pub price: Option<i64>,
    pub period: Option<AdvancedCommerceOfferPeriod>,
    pub reason: Option<AdvancedCommerceOfferReason>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[].refunds[]` of an Advanced Commerce transaction.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdvancedCommerceRefund {
    /// Milliunits.
    pub refund_amount: Option<i64>,
    pub refund_date: Option<i64>,
    pub refund_reason: Option<AdvancedCommerceRefundReason>,
    pub refund_type: Option<AdvancedCommerceRefundType>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[]` of an Advanced Commerce transaction.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdvancedCommerceTransactionItem {
    #[serde(rename = "SKU")]
    pub sku: Option<String>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub offer: Option<AdvancedCommerceOffer>,
    /// Milliunits.
    pub price: Option<i64>,
    pub refunds: Option<Vec<AdvancedCommerceRefund>>,
    pub revocation_date: Option<i64>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `advancedCommerceInfo` of a transaction (`AdvancedCommerceTransactionInfo`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdvancedCommerceTransactionInfo {
    pub descriptors: Option<AdvancedCommerceDescriptors>,
    /// Milliunits.
    pub estimated_tax: Option<i64>,
    pub items: Option<Vec<AdvancedCommerceTransactionItem>>,
    pub period: Option<AdvancedCommerceSubscriptionPeriod>,
    pub request_reference_id: Option<String>,
    pub tax_code: Option<String>,
    /// Milliunits.
    pub tax_exclusive_price: Option<i64>,
    /// Decimal as a string, e.g. `"0.15"`.
    pub tax_rate: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `commitmentInfo` of a transaction (`TransactionCommitmentInfo`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TransactionCommitmentInfo {
    /// Which billing period of the commitment this is.
    pub billing_period_number: Option<i64>,
    pub commitment_expires_date: Option<i64>,
    /// Milliunits.
    pub commitment_price: Option<i64>,
    pub total_billing_periods: Option<i64>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
