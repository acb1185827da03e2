//! The decoded app transaction, `JWSAppTransactionDecodedPayload`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::skip_serializing_none;

use super::{Environment, OriginalPlatform};

/// `JWSAppTransactionDecodedPayload`: the decoded `appData.signedAppTransactionInfo`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppTransaction {
    /// The environment (note the field name).
    pub receipt_type: Option<Environment>,
    pub app_apple_id: Option<i64>,
    pub bundle_id: Option<String>,
    pub application_version: Option<String>,
    pub version_external_identifier: Option<i64>,
    /// Signing time; the verification date instead of `signedDate`.
    pub receipt_creation_date: Option<i64>,
    pub original_purchase_date: Option<i64>,
    pub original_application_version: Option<String>,
    /// Base64.
    pub device_verification: Option<String>,
    /// UUID.
    pub device_verification_nonce: Option<String>,
    pub preorder_date: Option<i64>,
    pub app_transaction_id: Option<String>,
    pub original_platform: Option<OriginalPlatform>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
