-- Events out: the transactional outbox (see migrations/postgres/0006_event_deliveries.sql).
CREATE TABLE event_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id BIGINT  NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    destination     TEXT    NOT NULL,
    ordering_key    TEXT,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    leased_until    TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT
);

CREATE INDEX event_deliveries_due_idx ON event_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX event_deliveries_order_idx
    ON event_deliveries (destination, ordering_key, notification_id) WHERE state = 'pending';
-- Dead deliveries, for `asnd deliveries list --state dead` and the metrics. Partial, so that the
-- planner never takes it for the ordering check on pending rows.
CREATE INDEX event_deliveries_dead_idx ON event_deliveries (destination, created_at) WHERE state = 'dead';
CREATE INDEX event_deliveries_notification_id_idx ON event_deliveries (notification_id);
-- Delivered rows, for pruning them after [delivery] retention.
CREATE INDEX event_deliveries_delivered_idx ON event_deliveries (delivered_at) WHERE state = 'delivered';
