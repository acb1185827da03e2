-- asnd schema, PostgreSQL.
-- Times are timestamptz (converted from Apple's milliseconds since the epoch); status and reason
-- codes are integers; the decoded JSON is kept beside the typed columns as jsonb.

-- Every verified notification, exactly as received (raw_body) and decoded (payload).
CREATE TABLE notifications (
    id                      BIGSERIAL PRIMARY KEY,
    notification_uuid       TEXT        NOT NULL UNIQUE,
    notification_type       TEXT        NOT NULL,
    subtype                 TEXT,
    version                 TEXT        NOT NULL,
    environment             TEXT,
    bundle_id               TEXT,
    app_apple_id            BIGINT,
    signed_date             TIMESTAMPTZ,
    received_at             TIMESTAMPTZ NOT NULL,
    source_address          TEXT        NOT NULL,
    transaction_id          TEXT,
    original_transaction_id TEXT,
    verified_by             TEXT        NOT NULL,
    raw_body                BYTEA       NOT NULL,
    payload                 JSONB       NOT NULL
);

CREATE INDEX notifications_original_transaction_id_idx ON notifications (original_transaction_id);
CREATE INDEX notifications_type_received_at_idx ON notifications (notification_type, received_at);
CREATE INDEX notifications_environment_received_at_idx ON notifications (environment, received_at);
CREATE INDEX notifications_signed_date_idx ON notifications (signed_date);

-- The latest known state of each transaction: a row is only replaced by a state with a
-- signed_date at least as new.
CREATE TABLE transactions (
    transaction_id          TEXT PRIMARY KEY,
    original_transaction_id TEXT,
    bundle_id               TEXT,
    product_id              TEXT,
    product_type            TEXT,
    purchase_date           TIMESTAMPTZ,
    original_purchase_date  TIMESTAMPTZ,
    expires_date            TIMESTAMPTZ,
    revocation_date         TIMESTAMPTZ,
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
    signed_date             TIMESTAMPTZ NOT NULL,
    last_notification_uuid  TEXT        NOT NULL,
    payload                 JSONB       NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX transactions_original_transaction_id_idx ON transactions (original_transaction_id);
CREATE INDEX transactions_app_account_token_idx ON transactions (app_account_token);
CREATE INDEX transactions_environment_purchase_date_idx ON transactions (environment, purchase_date);
CREATE INDEX transactions_revocation_date_idx ON transactions (revocation_date);

-- The current state of each auto-renewable subscription (one row per original transaction),
-- never overwritten by a state with an older signed_date.
CREATE TABLE subscriptions (
    original_transaction_id    TEXT PRIMARY KEY,
    bundle_id                  TEXT,
    environment                TEXT,
    status                     INTEGER,
    product_id                 TEXT,
    auto_renew_product_id      TEXT,
    auto_renew_status          INTEGER,
    expires_date               TIMESTAMPTZ,
    grace_period_expires_date  TIMESTAMPTZ,
    is_in_billing_retry_period BOOLEAN,
    expiration_intent          INTEGER,
    app_account_token          TEXT,
    signed_date                TIMESTAMPTZ NOT NULL,
    last_notification_uuid     TEXT        NOT NULL,
    last_notification_type     TEXT        NOT NULL,
    last_subtype               TEXT,
    renewal_info               JSONB,
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX subscriptions_status_idx ON subscriptions (status);
CREATE INDEX subscriptions_expires_date_idx ON subscriptions (expires_date);
CREATE INDEX subscriptions_app_account_token_idx ON subscriptions (app_account_token);

-- Requests refused after their body was read (quarantine).
CREATE TABLE rejected_notifications (
    id             BIGSERIAL PRIMARY KEY,
    received_at    TIMESTAMPTZ NOT NULL,
    source_address TEXT        NOT NULL,
    reason         TEXT        NOT NULL,
    http_status    INTEGER     NOT NULL,
    raw_body       BYTEA       NOT NULL
);

CREATE INDEX rejected_notifications_received_at_idx ON rejected_notifications (received_at);
