/** Escapes text for XML element content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export interface VoicemailTwimlOptions {
  greeting: string;
  /** BCP-47 voice language of the greeting, e.g. es-ES */
  language: string;
  maxLengthS: number;
  transcribeCallbackUrl: string;
  recordingStatusCallbackUrl: string;
}

/**
 * What we answer an inbound call with: a greeting, then a voicemail recording that Twilio
 * transcribes. Transcription and recording results come back to our callbacks; nothing else is
 * needed from the caller, so the call hangs up after the recording.
 */
export function voicemailTwiml(o: VoicemailTwimlOptions): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<Response>' +
    `<Say language="${xmlEscape(o.language)}">${xmlEscape(o.greeting)}</Say>` +
    `<Record maxLength="${Math.trunc(o.maxLengthS)}" playBeep="true" transcribe="true"` +
    ` transcribeCallback="${xmlEscape(o.transcribeCallbackUrl)}"` +
    ` recordingStatusCallback="${xmlEscape(o.recordingStatusCallbackUrl)}" recordingStatusCallbackEvent="completed"/>` +
    '<Hangup/>' +
    '</Response>'
  );
}

/** The empty TwiML answer: "received, do nothing" (SMS webhook). */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
