-- Events out: the transactional outbox. In the transaction that stores a new notification, one
-- row per matching [[destinations]] entry; the delivery workers of every replica share them
-- (row locks with SKIP LOCKED, and a lease so that a replica killed mid-delivery loses nothing).
-- The event id sent as `webhook-id` is "evt_" || notification_id.
CREATE TABLE event_deliveries (
    id              BIGSERIAL   PRIMARY KEY,
    notification_id BIGINT      NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    destination     TEXT        NOT NULL,
    -- The notification's original_transaction_id: per destination, a later event of one
    -- subscription waits until the earlier ones are delivered or dead.
    ordering_key    TEXT,
    -- pending, delivered or dead.
    state           TEXT        NOT NULL DEFAULT 'pending',
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    -- Until then one worker holds it; afterwards any worker may take it again.
    leased_until    TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ
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
