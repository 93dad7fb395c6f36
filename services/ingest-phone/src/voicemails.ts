import type { Pool } from 'pg';
import { acceptInbound, type IngestDeps } from '@omni/ingest';
import { voicemailEnvelope } from './domain/twilio-envelopes';

/** Remembers who called (the recording status callback does not say). */
export async function recordCall(pool: Pool, callSid: string, from: string | undefined, to: string | undefined): Promise<void> {
  await pool.query(
    `INSERT INTO ingest.phone_calls (call_sid, from_number, to_number) VALUES ($1::text, $2::text, $3::text)
     ON CONFLICT (call_sid) DO UPDATE SET from_number = COALESCE(phone_calls.from_number, EXCLUDED.from_number),
                                          to_number = COALESCE(phone_calls.to_number, EXCLUDED.to_number)`,
    [callSid, from ?? null, to ?? null],
  );
}

export interface CallRow {
  from_number: string | null;
  to_number: string | null;
  started_at: Date;
}

export async function findCall(pool: Pool, callSid: string): Promise<CallRow | undefined> {
  const r = await pool.query<CallRow>('SELECT from_number, to_number, started_at FROM ingest.phone_calls WHERE call_sid = $1::text', [callSid]);
  return r.rows[0];
}

/** Stores a finished recording until its transcript (or the no-transcript deadline) publishes it. */
export async function recordVoicemail(pool: Pool, v: { recordingSid: string; callSid: string; recordingUrl?: string; durationS?: number }): Promise<void> {
  await pool.query(
    `INSERT INTO ingest.phone_voicemails (recording_sid, call_sid, recording_url, duration_s)
     VALUES ($1::text, $2::text, $3::text, $4::int)
     ON CONFLICT (recording_sid) DO UPDATE SET recording_url = COALESCE(EXCLUDED.recording_url, phone_voicemails.recording_url),
                                               duration_s = COALESCE(EXCLUDED.duration_s, phone_voicemails.duration_s)`,
    [v.recordingSid, v.callSid, v.recordingUrl ?? null, v.durationS ?? null],
  );
}

export async function findVoicemail(pool: Pool, recordingSid: string): Promise<{ duration_s: number | null; recording_url: string | null } | undefined> {
  const r = await pool.query<{ duration_s: number | null; recording_url: string | null }>(
    'SELECT duration_s, recording_url FROM ingest.phone_voicemails WHERE recording_sid = $1::text',
    [recordingSid],
  );
  return r.rows[0];
}

/** Marks the voicemail published (after the Kafka ack); inserts the row if the transcript came first. */
export async function markVoicemailPublished(pool: Pool, recordingSid: string, callSid: string): Promise<void> {
  await pool.query(
    `INSERT INTO ingest.phone_voicemails (recording_sid, call_sid, published_at) VALUES ($1::text, $2::text, now())
     ON CONFLICT (recording_sid) DO UPDATE SET published_at = COALESCE(phone_voicemails.published_at, now())`,
    [recordingSid, callSid],
  );
}

/**
 * Publishes, without transcript, every voicemail whose transcript has not come within waitS (the
 * transcription failed silently, or the recording was too long to transcribe), so no voicemail is
 * ever lost. Safe on several replicas: the message id is the recording's, so a race publishes at
 * most a duplicate that acceptInbound and the consumers drop.
 */
export async function publishOverdueVoicemails(deps: IngestDeps, waitS: number, now = new Date(), limit = 100): Promise<number> {
  const rows = (
    await deps.pool.query<{ recording_sid: string; call_sid: string; recording_url: string | null; duration_s: number | null; from_number: string | null; to_number: string | null; started_at: Date | null }>(
      `SELECT v.recording_sid, v.call_sid, v.recording_url, v.duration_s, c.from_number, c.to_number, c.started_at
         FROM ingest.phone_voicemails v LEFT JOIN ingest.phone_calls c ON c.call_sid = v.call_sid
        WHERE v.published_at IS NULL AND v.recorded_at <= $1::timestamptz - make_interval(secs => $2::int)
        ORDER BY v.recorded_at LIMIT $3::int`,
      [now.toISOString(), waitS, limit],
    )
  ).rows;
  for (const r of rows) {
    const envelope = voicemailEnvelope({
      recordingSid: r.recording_sid,
      callSid: r.call_sid,
      // a withheld number still leaves a voicemail worth hearing; it just cannot be called back
      from: r.from_number ?? 'anonymous',
      ...(r.to_number ? { to: r.to_number } : {}),
      ...(r.recording_url ? { recordingUrl: r.recording_url } : {}),
      ...(r.duration_s !== null ? { durationS: r.duration_s } : {}),
      transcriptionStatus: 'not-received',
      receivedAt: now,
      ...(r.started_at ? { startedAt: r.started_at } : {}),
    });
    await acceptInbound(deps, [envelope]);
    await markVoicemailPublished(deps.pool, r.recording_sid, r.call_sid);
  }
  return rows.length;
}
