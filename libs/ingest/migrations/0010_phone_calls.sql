-- ingest-phone: the calls our voice webhook answered (the recording status callback carries no
-- caller number, so the voicemail finds it here) and the voicemails waiting for their transcript.
CREATE TABLE IF NOT EXISTS phone_calls (
  call_sid text PRIMARY KEY,
  from_number text,
  to_number text,
  started_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS phone_voicemails (
  recording_sid text PRIMARY KEY,
  call_sid text NOT NULL,
  recording_url text,
  duration_s integer,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  -- set once the voicemail message was acked by Kafka (by the transcript or the no-transcript sweep)
  published_at timestamptz
);
CREATE INDEX IF NOT EXISTS phone_voicemails_pending ON phone_voicemails (recorded_at) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS phone_calls_started_at ON phone_calls (started_at);
