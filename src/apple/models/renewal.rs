//! The decoded renewal info, `JWSRenewalInfoDecodedPayload`, with its Advanced Commerce and
//! commitment parts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::skip_serializing_none;

use super::{
    AdvancedCommerceDescriptors, AdvancedCommerceOffer, AdvancedCommercePriceIncreaseStatus,
    AdvancedCommerceSubscriptionPeriod, AutoRenewStatus, BillingPlanType, Environment,
    ExpirationIntent, OfferDiscountType, OfferType, PriceIncreaseStatus,
};

/// `JWSRenewalInfoDecodedPayload`: the decoded `signedRenewalInfo`. Has no `bundleId`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RenewalInfo {
    pub original_transaction_id: Option<String>,
    pub product_id: Option<String>,
    pub auto_renew_product_id: Option<String>,
    pub auto_renew_status: Option<AutoRenewStatus>,
    pub expiration_intent: Option<ExpirationIntent>,
    pub is_in_billing_retry_period: Option<bool>,
    pub grace_period_expires_date: Option<i64>,
    pub price_increase_status: Option<PriceIncreaseStatus>,
    pub offer_type: Option<OfferType>,
    pub offer_identifier: Option<String>,
    pub offer_discount_type: Option<OfferDiscountType>,
    /// ISO 8601 duration.
    pub offer_period: Option<String>,
    pub signed_date: Option<i64>,
    pub environment: Option<Environment>,
    pub recent_subscription_start_date: Option<i64>,
    pub renewal_date: Option<i64>,
    /// Milliunits.
    pub renewal_price: Option<i64>,
    /// ISO 4217 of `renewal_price`.
    pub currency: Option<String>,
    pub eligible_win_back_offer_ids: Option<Vec<String>>,
    /// UUID.
    pub app_account_token: Option<String>,
    pub app_transaction_id: Option<String>,
    pub advanced_commerce_info: Option<AdvancedCommerceRenewalInfo>,
    pub commitment_info: Option<RenewalCommitmentInfo>,
    pub renewal_billing_plan_type: Option<BillingPlanType>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[].priceIncreaseInfo` of Advanced Commerce renewal info.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdvancedCommercePriceIncreaseInfo {
    #[serde(rename = "dependentSKUs")]
    pub dependent_skus: Option<Vec<String>>,
    /// Milliunits.
    pub price: Option<i64>,
    pub status: Option<AdvancedCommercePriceIncreaseStatus>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `items[]` of Advanced Commerce renewal info.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdvancedCommerceRenewalItem {
    #[serde(rename = "SKU")]
    pub sku: Option<String>,
    pub description: Option<String>,
    pub display_name: Option<String>,
    pub offer: Option<AdvancedCommerceOffer>,
    /// Milliunits.
    pub price: Option<i64>,
    pub price_increase_info: Option<AdvancedCommercePriceIncreaseInfo>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `advancedCommerceInfo` of renewal info (`AdvancedCommerceRenewalInfo`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdvancedCommerceRenewalInfo {
    pub consistency_token: Option<String>,
    pub descriptors: Option<AdvancedCommerceDescriptors>,
    pub items: Option<Vec<AdvancedCommerceRenewalItem>>,
    pub period: Option<AdvancedCommerceSubscriptionPeriod>,
    pub request_reference_id: Option<String>,
    pub tax_code: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `commitmentInfo` of renewal info (`RenewalCommitmentInfo`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RenewalCommitmentInfo {
    pub commitment_auto_renew_product_id: Option<String>,
    pub commitment_auto_renew_status: Option<AutoRenewStatus>,
    pub commitment_renewal_billing_plan_type: Option<BillingPlanType>,
    pub commitment_renewal_date: Option<i64>,
    /// Milliunits.
    pub commitment_renewal_price: Option<i64>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
