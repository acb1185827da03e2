-- Several roots must not shadow each other (`serve --dev` trusts a development root beside
-- Apple's). A notification is unique per UUID AND root, so a body another root proved never
-- makes Apple's a duplicate; transactions and subscriptions record the root of their state, and
-- data of one origin never changes a row made by another (Apple's always wins; see the README).
ALTER TABLE notifications DROP CONSTRAINT notifications_notification_uuid_key;
ALTER TABLE notifications
    ADD CONSTRAINT notifications_notification_uuid_verified_by_key UNIQUE (notification_uuid, verified_by);

ALTER TABLE transactions ADD COLUMN verified_by TEXT NOT NULL DEFAULT 'apple-root-ca-g3';
ALTER TABLE subscriptions ADD COLUMN verified_by TEXT NOT NULL DEFAULT 'apple-root-ca-g3';
-- Rows written before this migration: the root of the notification that last changed them.
UPDATE transactions t SET verified_by = n.verified_by
    FROM notifications n
    WHERE n.notification_uuid = t.last_notification_uuid AND n.verified_by <> t.verified_by;
UPDATE subscriptions s SET verified_by = n.verified_by
    FROM notifications n
    WHERE n.notification_uuid = s.last_notification_uuid AND n.verified_by <> s.verified_by;
ALTER TABLE transactions ALTER COLUMN verified_by DROP DEFAULT;
ALTER TABLE subscriptions ALTER COLUMN verified_by DROP DEFAULT;

CREATE INDEX transactions_verified_by_idx ON transactions (verified_by);
CREATE INDEX subscriptions_verified_by_idx ON subscriptions (verified_by);
