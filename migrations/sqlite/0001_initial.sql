-- asnd schema, SQLite.
-- Times are ISO-8601 UTC text with milliseconds, e.g. '2026-11-29T18:27:38.123Z', so that they sort
-- correctly and work with date(), strftime() and julianday(). Booleans are INTEGER 0/1; the decoded
-- JSON is kept beside the typed columns as TEXT (checked with json_valid, usable with ->> / json_extract).

-- Every verified notification, exactly as received (raw_body) and decoded (payload).
CREATE TABLE notifications (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_uuid       TEXT    NOT NULL UNIQUE,
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
    payload                 TEXT    NOT NULL CHECK (json_valid(payload))
);

CREATE INDEX notifications_original_transaction_id_idx ON notifications (original_transaction_id);
CREATE INDEX notifications_type_received_at_idx ON notifications (notification_type, received_at);
CREATE INDEX notifications_environment_received_at_idx ON notifications (environment, received_at);
CREATE INDEX notifications_signed_date_idx ON notifications (signed_date);

-- The latest known state of each transaction: a row is only replaced by a state with a
-- signed_date at least as new.
CREATE TABLE transactions (
    transaction_id          TEXT PRIMARY KEY NOT NULL,
    original_transaction_id TEXT,
    bundle_id               TEXT,
    product_id              TEXT,
    product_type            TEXT,
    purchase_date           TEXT,
    original_purchase_date  TEXT,
    expires_date            TEXT,
    revocation_date         TEXT,
    revocation_reason       INTEGER,
    revocation_type         TEXT,
    environment             TEXT,
    app_account_token       TEXT,
    in_app_ownership_type   TEXT,
    transaction_reason      TEXT,
    web_order_line_item_id  TEXT,
    storefront              TEXT,
    price                   BIGINT,
    currency                TEXT,
    quantity                BIGINT,
    offer_type              INTEGER,
    offer_identifier        TEXT,
    signed_date             TEXT    NOT NULL,
    last_notification_uuid  TEXT    NOT NULL,
    payload                 TEXT    NOT NULL CHECK (json_valid(payload)),
    updated_at              TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX transactions_original_transaction_id_idx ON transactions (original_transaction_id);
CREATE INDEX transactions_app_account_token_idx ON transactions (app_account_token);
CREATE INDEX transactions_environment_purchase_date_idx ON transactions (environment, purchase_date);
CREATE INDEX transactions_revocation_date_idx ON transactions (revocation_date);

-- The current state of each auto-renewable subscription (one row per original transaction),
-- never overwritten by a state with an older signed_date.
CREATE TABLE subscriptions (
    original_transaction_id    TEXT PRIMARY KEY NOT NULL,
    bundle_id                  TEXT,
    environment                TEXT,
    status                     INTEGER,
    product_id                 TEXT,
    auto_renew_product_id      TEXT,
    auto_renew_status          INTEGER,
    expires_date               TEXT,
    grace_period_expires_date  TEXT,
    is_in_billing_retry_period INTEGER CHECK (is_in_billing_retry_period IN (0, 1)),
    expiration_intent          INTEGER,
    app_account_token          TEXT,
    signed_date                TEXT    NOT NULL,
    last_notification_uuid     TEXT    NOT NULL,
    last_notification_type     TEXT    NOT NULL,
    last_subtype               TEXT,
    renewal_info               TEXT CHECK (renewal_info IS NULL OR json_valid(renewal_info)),
    updated_at                 TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX subscriptions_status_idx ON subscriptions (status);
CREATE INDEX subscriptions_expires_date_idx ON subscriptions (expires_date);
CREATE INDEX subscriptions_app_account_token_idx ON subscriptions (app_account_token);

-- Requests refused after their body was read (quarantine).
CREATE TABLE rejected_notifications (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at    TEXT    NOT NULL,
    source_address TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    http_status    INTEGER NOT NULL,
    raw_body       BLOB    NOT NULL
);

CREATE INDEX rejected_notifications_received_at_idx ON rejected_notifications (received_at);
