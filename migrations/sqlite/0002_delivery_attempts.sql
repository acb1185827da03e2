-- App Store Server API support (issue 7).

-- Apple's own record of each attempt to deliver a notification (sendAttempts), as reported by Get
-- Notification History and Get Test Notification Status. Recorded again on every backfill run:
-- the unique key makes re-runs add nothing. Times are ISO-8601 UTC text with milliseconds.
CREATE TABLE delivery_attempts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_uuid   TEXT NOT NULL,
    attempt_date        TEXT NOT NULL,
    send_attempt_result TEXT NOT NULL,
    recorded_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (notification_uuid, attempt_date, send_attempt_result)
);

-- The notificationUUID a refused body claims, read WITHOUT verification (the body was refused),
-- only so that `asnd test-notification` can find why a notification was not stored. Never trust it
-- for anything else. NULL when the body held no readable UUID.
ALTER TABLE rejected_notifications ADD COLUMN notification_uuid TEXT;

CREATE INDEX rejected_notifications_notification_uuid_idx ON rejected_notifications (notification_uuid);
