-- The quarantine, bounded and replayable: `body_length` is the length of the body as received
-- (more than raw_body's when `[quarantine] max_body_bytes` cut it; NULL for older rows, never
-- cut), and `asnd reprocess` records when it last processed a row and with what result.
ALTER TABLE rejected_notifications ADD COLUMN body_length BIGINT;
ALTER TABLE rejected_notifications ADD COLUMN reprocessed_at TIMESTAMPTZ;
ALTER TABLE rejected_notifications ADD COLUMN reprocess_result TEXT;
