-- Raw bodies are mostly base64 (JWS and certificate chains), which pglz barely shrinks: trying to
-- compress each one cost more CPU than any other part of an insert. Store them as they are.
ALTER TABLE notifications ALTER COLUMN raw_body SET STORAGE EXTERNAL;
ALTER TABLE rejected_notifications ALTER COLUMN raw_body SET STORAGE EXTERNAL;
