//! The decoded V2 notification and its containers: `data`, `summary`,
//! `externalPurchaseToken`, `appData`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::skip_serializing_none;

use super::{ConsumptionRequestReason, Environment, NotificationType, Status, Subtype, TokenType};

/// `responseBodyV2DecodedPayload`: the decoded `signedPayload` of a V2 notification.
///
/// Exactly one of `data`, `summary`, `external_purchase_token`, `app_data` is expected.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NotificationPayload {
    pub notification_type: Option<NotificationType>,
    /// Absent (not empty) when the type has no subtype.
    pub subtype: Option<Subtype>,
    /// Unique per notification, identical across retries.
    #[serde(rename = "notificationUUID")]
    pub notification_uuid: Option<String>,
    pub data: Option<NotificationData>,
    pub summary: Option<Summary>,
    pub external_purchase_token: Option<ExternalPurchaseToken>,
    pub app_data: Option<AppData>,
    /// Normally `"2.0"`.
    pub version: Option<String>,
    /// Milliseconds; missing in some very old payloads.
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

/// `data` container.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NotificationData {
    /// Optional, also in sandbox; compare only in Production.
    pub app_apple_id: Option<i64>,
    pub bundle_id: Option<String>,
    pub bundle_version: Option<String>,
    pub environment: Option<Environment>,
    /// JWS of a [`TransactionInfo`]; absent for `TEST`.
    pub signed_transaction_info: Option<String>,
    /// JWS of a [`RenewalInfo`]; auto-renewable subscriptions only.
    pub signed_renewal_info: Option<String>,
    /// Auto-renewable subscriptions only.
    pub status: Option<Status>,
    /// `CONSUMPTION_REQUEST` only.
    pub consumption_request_reason: Option<ConsumptionRequestReason>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `summary` container of `RENEWAL_EXTENSION` / `SUMMARY`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Summary {
    pub environment: Option<Environment>,
    pub app_apple_id: Option<i64>,
    pub bundle_id: Option<String>,
    pub product_id: Option<String>,
    pub request_identifier: Option<String>,
    /// ISO 3166-1 alpha-3 codes; absent = all storefronts.
    pub storefront_country_codes: Option<Vec<String>>,
    pub succeeded_count: Option<i64>,
    pub failed_count: Option<i64>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `externalPurchaseToken` container of `EXTERNAL_PURCHASE_TOKEN`. It has no
/// `environment` field: see [`ExternalPurchaseToken::environment`].
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExternalPurchaseToken {
    /// Sandbox tokens start with `SANDBOX`.
    pub external_purchase_id: Option<String>,
    pub token_creation_date: Option<i64>,
    pub app_apple_id: Option<i64>,
    pub bundle_id: Option<String>,
    /// Custom-link tokens only.
    pub token_expiration_date: Option<i64>,
    /// Custom-link tokens only.
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

/// `appData` container of `RESCIND_CONSENT`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppData {
    pub app_apple_id: Option<i64>,
    pub bundle_id: Option<String>,
    pub environment: Option<Environment>,
    /// JWS of an [`AppTransaction`].
    pub signed_app_transaction_info: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
