-- Several roots must not shadow each other (see migrations/postgres/0004_verified_by.sql). SQLite
-- cannot drop a column's UNIQUE constraint, so `notifications` is rebuilt with the key
-- (notification_uuid, verified_by); its rows, ids and indexes stay the same.
CREATE TABLE notifications_by_root (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_uuid       TEXT    NOT NULL,
    notification_type       TEXT    NOT NULL,
    subtype                 TEXT,
    version                 TEXT    NOT NULL,
    environment             TEXT,
    bundle_id               TEXT,
    app_apple_id            BIGINT,
    signed_date             TEXT,
    received_at             TEXT    NOT NULL,
    source_address          TEXT    NOT NULL,
    transaction_id          TEXT,
    original_transaction_id TEXT,
    verified_by             TEXT    NOT NULL,
    raw_body                BLOB    NOT NULL,
    payload                 TEXT    NOT NULL CHECK (json_valid(payload)),
    UNIQUE (notification_uuid, verified_by)
);
INSERT INTO notifications_by_root SELECT * FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_by_root RENAME TO notifications;

CREATE INDEX notifications_original_transaction_id_idx ON notifications (original_transaction_id);
CREATE INDEX notifications_type_received_at_idx ON notifications (notification_type, received_at);
CREATE INDEX notifications_environment_received_at_idx ON notifications (environment, received_at);
CREATE INDEX notifications_signed_date_idx ON notifications (signed_date);

ALTER TABLE transactions ADD COLUMN verified_by TEXT NOT NULL DEFAULT 'apple-root-ca-g3';
ALTER TABLE subscriptions ADD COLUMN verified_by TEXT NOT NULL DEFAULT 'apple-root-ca-g3';
-- Rows written before this migration: the root of the notification that last changed them.
UPDATE transactions SET verified_by = (
    SELECT n.verified_by FROM notifications n WHERE n.notification_uuid = transactions.last_notification_uuid
) WHERE last_notification_uuid IN (SELECT notification_uuid FROM notifications);
UPDATE subscriptions SET verified_by = (
    SELECT n.verified_by FROM notifications n WHERE n.notification_uuid = subscriptions.last_notification_uuid
) WHERE last_notification_uuid IN (SELECT notification_uuid FROM notifications);

CREATE INDEX transactions_verified_by_idx ON transactions (verified_by);
CREATE INDEX subscriptions_verified_by_idx ON subscriptions (verified_by);
