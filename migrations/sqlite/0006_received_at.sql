-- Reports by arrival time read this index instead of the whole table (see
-- migrations/postgres/0007_received_at.sql).
CREATE INDEX IF NOT EXISTS notifications_received_at_idx
    ON notifications (received_at, notification_type);
