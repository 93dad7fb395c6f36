import { acceptInbound, type IngestDeps } from '@omni/ingest';
import { emailEnvelope, providerMessageIdOf, type ParsedEmail } from './domain/parsed-email';
import { threadOf } from './thread-index';

export interface EmailAccepted {
  status: 'accepted' | 'duplicate';
  messageId: string;
  threadKey: string;
}

/** Threads, builds the envelope and publishes one inbound e-mail (2xx only after the Kafka ack). */
export async function acceptEmail(deps: IngestDeps, parsed: ParsedEmail, idField: string): Promise<EmailAccepted> {
  const fallbackRoot = `${parsed.provider}:${providerMessageIdOf(parsed, idField)}`;
  const thread = await threadOf(
    deps.pool,
    { ...(parsed.messageId ? { messageId: parsed.messageId } : {}), inReplyTo: parsed.inReplyTo, references: parsed.references, recipients: parsed.recipients, mailboxHashes: parsed.mailboxHashes ?? [] },
    fallbackRoot,
  );
  const envelope = emailEnvelope(parsed, thread.threadKey, new Date(), idField);
  envelope.raw = { ...envelope.raw, threadedVia: thread.via };
  const [r] = await acceptInbound(deps, [envelope]);
  return { status: r!.status, messageId: r!.messageId, threadKey: envelope.threadKey };
}
