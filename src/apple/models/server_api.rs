//! The App Store Server API bodies a receiver uses (Request a Test Notification, Get Test Notification Status, Get Notification History): notification history and
//! test notifications.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::skip_serializing_none;

use super::{NotificationType, SendAttemptResult, Subtype};

/// One delivery attempt (`SendAttemptItem`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SendAttempt {
    pub attempt_date: Option<i64>,
    pub send_attempt_result: Option<SendAttemptResult>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of a Get Notification History request (`NotificationHistoryRequest`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NotificationHistoryRequest {
    /// Required by Apple; milliseconds.
    pub start_date: Option<i64>,
    /// Required by Apple; milliseconds.
    pub end_date: Option<i64>,
    pub notification_type: Option<NotificationType>,
    /// Requires `notification_type`.
    pub notification_subtype: Option<Subtype>,
    /// Do not combine with `notification_type`.
    pub transaction_id: Option<String>,
    pub only_failures: Option<bool>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Response of Get Notification History (`NotificationHistoryResponse`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NotificationHistoryResponse {
    /// At most 20 per page.
    pub notification_history: Option<Vec<NotificationHistoryItem>>,
    pub has_more: Option<bool>,
    /// Pass as the `paginationToken` query parameter, with the same body, for the next page.
    pub pagination_token: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `notificationHistory`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NotificationHistoryItem {
    /// The notification JWS as it was sent.
    pub signed_payload: Option<String>,
    /// At most 6.
    pub send_attempts: Option<Vec<SendAttempt>>,
    /// Deprecated: use `send_attempts[0]`.
    pub first_send_attempt_result: Option<SendAttemptResult>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Response of Get Test Notification Status (`CheckTestNotificationResponse`): the same fields as a
/// history entry, for the `TEST` notification.
pub type CheckTestNotificationResponse = NotificationHistoryItem;

/// Response of Request a Test Notification (`SendTestNotificationResponse`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SendTestNotificationResponse {
    /// Usable with Get Test Notification Status for up to 6 months.
    pub test_notification_token: Option<String>,
    /// Fields this version does not know, kept unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
