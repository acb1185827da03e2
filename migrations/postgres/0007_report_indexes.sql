-- Indexes for the reports of docs/queries.md on a large database.
-- Reports by arrival time ("notifications per type over the last 24 hours") read this index
-- alone instead of the whole table: it holds notification_type too.
CREATE INDEX IF NOT EXISTS notifications_received_at_idx
    ON notifications (received_at, notification_type);
-- "Active subscriptions right now": one environment's subscriptions of one status, by expiry.
CREATE INDEX IF NOT EXISTS subscriptions_environment_status_expires_idx
    ON subscriptions (environment, status, expires_date);
-- On a large existing database, building these blocks writes to the two tables for seconds; an
-- operator may build them beforehand with CREATE INDEX CONCURRENTLY under these names, and this
-- migration then finds them.
