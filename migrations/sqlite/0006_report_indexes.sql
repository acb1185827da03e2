-- Indexes for the reports of docs/queries.md on a large database (see
-- migrations/postgres/0007_report_indexes.sql).
CREATE INDEX IF NOT EXISTS notifications_received_at_idx
    ON notifications (received_at, notification_type);
CREATE INDEX IF NOT EXISTS subscriptions_environment_status_expires_idx
    ON subscriptions (environment, status, expires_date);
