-- processed_events rows are pruned after PROCESSED_EVENTS_RETENTION_DAYS (store/retention.ts), oldest
-- first; this index keeps that a range scan instead of a pass over the whole table.
CREATE INDEX IF NOT EXISTS processed_events_processed_at ON processed_events (processed_at);
