import type { OutboundMessage, Party } from '@omni/contracts';
import type { EmailThreadHeaders } from './email-threading';

/** A reply that can never be delivered as addressed (bad phone number…): fails without retries. */
export class UndeliverableError extends Error {}

/** The JSON body POSTed to a delivery target (docs/delivery-callbacks.md documents every field). */
export interface CallbackBody {
  outboundId: string;
  conversationId: string;
  channel: OutboundMessage['channel'];
  provider: string;
  threadKey: string;
  /** the thread key as the adapter posted it (without our `<channel>:` prefix) */
  adapterThreadKey?: string;
  to: Party;
  text: string;
  subject?: string;
  agentId: string;
  createdAt: string;
  inReplyToMessageId?: string;
  email?: EmailThreadHeaders & { to: string };
  sms?: { to: string };
  whatsapp?: { to: string };
  messenger?: { recipientId: string };
  instagram?: { recipientId: string };
}

const E164 = /^\+[1-9][0-9]{6,14}$/;

/** An E.164 number from a party (its phone, else its address), tolerating spaces, dashes and a `tel:`/`sms:` prefix. */
export function e164Of(to: Party): string {
  for (const candidate of [to.phone, to.address]) {
    if (!candidate) continue;
    const n = candidate.replace(/^(tel|sms|whatsapp):/i, '').replace(/[\s().-]/g, '').replace(/^00/, '+');
    if (E164.test(n)) return n;
  }
  throw new UndeliverableError(`recipient '${to.address.slice(0, 40)}' is not an E.164 phone number`);
}

/** The WhatsApp id (wa_id: the number's digits without '+') of a party. */
export function whatsappIdOf(to: Party): string {
  const n = to.address.replace(/^whatsapp:/i, '').replace(/[\s().+-]/g, '');
  if (/^[1-9][0-9]{6,14}$/.test(n)) return n;
  if (to.phone) return e164Of({ ...to, address: to.phone }).slice(1);
  throw new UndeliverableError(`recipient '${to.address.slice(0, 40)}' is not a WhatsApp id`);
}

/** The email address of a party (its email, else its address). */
export function emailOf(to: Party): string {
  const a = to.email ?? to.address;
  if (/^[^@\s]+@[^@\s]+$/.test(a)) return a;
  throw new UndeliverableError(`recipient '${to.address.slice(0, 40)}' is not an email address`);
}

/**
 * Builds the callback body of a reply. `email` must be given for the email channel (headers come from
 * the thread, which the caller reads from the database). Throws UndeliverableError for recipients
 * the channel cannot address.
 */
export function buildCallbackBody(out: OutboundMessage, provider: string, email?: EmailThreadHeaders): CallbackBody {
  const prefix = `${out.channel}:`;
  const body: CallbackBody = {
    outboundId: out.outboundId,
    conversationId: out.conversationId,
    channel: out.channel,
    provider,
    threadKey: out.threadKey,
    ...(provider.startsWith('adapter:') && out.threadKey.startsWith(prefix) ? { adapterThreadKey: out.threadKey.slice(prefix.length) } : {}),
    to: out.to,
    text: out.text,
    ...(out.subject !== undefined ? { subject: out.subject } : {}),
    agentId: out.agentId,
    createdAt: out.createdAt,
    ...(out.inReplyToMessageId ? { inReplyToMessageId: out.inReplyToMessageId } : {}),
  };
  switch (out.channel) {
    case 'email':
      if (!email) throw new Error('email threading headers are required for an email reply');
      body.email = { to: emailOf(out.to), ...email };
      break;
    case 'sms':
      body.sms = { to: e164Of(out.to) };
      break;
    case 'whatsapp':
      body.whatsapp = { to: whatsappIdOf(out.to) };
      break;
    case 'messenger':
      body.messenger = { recipientId: out.to.address };
      break;
    case 'instagram':
      body.instagram = { recipientId: out.to.address };
      break;
    default:
      break;
  }
  return body;
}
