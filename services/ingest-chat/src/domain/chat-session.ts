import { deterministicMessageId, type InboundMessage } from '@omni/contracts';

/** A live website chat session as stored in ingest.chat_sessions. */
export interface ChatSession {
  sessionId: string;
  adapterId: string;
  visitorId: string;
  name?: string;
  email?: string;
  language?: string;
  expiresAt: Date;
}

export const WEBCHAT_PROVIDER = 'webchat';

/** The thread of a websocket session; outbound replies whose threadKey has this form belong to it. */
export function sessionThreadKey(sessionId: string): string {
  return `chat:${sessionId}`;
}

/** The session id of a websocket thread key, or undefined for any other chat thread. */
export function sessionIdOfThread(threadKey: string): string | undefined {
  return /^chat:(cs_[0-9a-f]{32})$/.exec(threadKey)?.[1];
}

/**
 * The canonical envelope of a visitor message. The id is derived from the session and the client's
 * own message id, so a frame re-sent after a lost ack maps to the same message.
 */
export function envelopeFromVisitor(session: ChatSession, clientMessageId: string, text: string, now = new Date(), extraRaw: Record<string, unknown> = {}): InboundMessage {
  const providerMessageId = `${session.sessionId}:${clientMessageId}`;
  return {
    schema: 'omni.inbound.v1',
    messageId: deterministicMessageId(WEBCHAT_PROVIDER, providerMessageId),
    channel: 'chat',
    provider: WEBCHAT_PROVIDER,
    providerMessageId,
    threadKey: sessionThreadKey(session.sessionId),
    from: {
      channel: 'chat',
      address: session.visitorId,
      ...(session.name ? { name: session.name } : {}),
      ...(session.email ? { email: session.email } : {}),
    },
    sentAt: now.toISOString(),
    receivedAt: now.toISOString(),
    text,
    ...(session.language ? { language: session.language } : {}),
    raw: { ...extraRaw, sessionId: session.sessionId, adapterId: session.adapterId, clientMessageId },
  };
}
