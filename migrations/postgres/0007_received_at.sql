-- Reports by arrival time ("notifications per type per day" over recent days) read this index
-- alone instead of the whole table. It holds notification_type too, so a count by type needs no
-- heap access. On a large existing table, building it blocks inserts for seconds; an operator
-- may build it beforehand with CREATE INDEX CONCURRENTLY under this name, and this finds it.
CREATE INDEX IF NOT EXISTS notifications_received_at_idx
    ON notifications (received_at, notification_type);
