-- The quarantine, bounded and replayable (see migrations/postgres/0005_quarantine.sql).
ALTER TABLE rejected_notifications ADD COLUMN body_length BIGINT;
ALTER TABLE rejected_notifications ADD COLUMN reprocessed_at TEXT;
ALTER TABLE rejected_notifications ADD COLUMN reprocess_result TEXT;
