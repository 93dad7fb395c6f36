import type { WebSocket } from 'ws';
import type { Pool } from 'pg';
import { ContractError, type TopicNames } from '@omni/contracts';
import { acceptInbound, type IngestDeps } from '@omni/ingest';
import type { Logger } from '@omni/logging';
import { envelopeFromVisitor, type ChatSession } from './domain/chat-session';
import { parseVisitorFrame, type ServerFrame } from './domain/visitor-frames';
import { findSession, markDelivered, repliesAfter, replyChoices } from './session-store';
import { latestWait } from './wait-store';
import type { SessionHub, SessionSocket } from './session-hub';

export interface VisitorDeps {
  pool: Pool;
  topics: TopicNames;
  ingest: IngestDeps;
  hub: SessionHub;
  /** wakes the outbox relay after delivered statuses were queued */
  kickRelay: () => void;
  /** ping interval; a peer silent for two rounds is terminated (half-open TCP) */
  pingIntervalMs: number;
  /** verifies a session token and returns its session id; throws with a reason */
  verifyToken: (token: string) => string;
  logger: Logger;
}

/** Close codes in the application range: the widget should not retry with the same token. */
export const CLOSE_UNAUTHORIZED = 4401;
const PAGE = 200;

/**
 * One visitor websocket. Two ordered lanes: visitor frames (messages are acked only after Kafka acked,
 * in the order sent) and reply sync (stored replies after the cursor, read from the table, so live
 * pushes, resumes and wake-ups from other replicas all go through one path with no gap and no
 * duplicate).
 */
export class VisitorConnection implements SessionSocket {
  sessionId = '';
  private session?: ChatSession;
  private cursor = 0;
  private frames: Promise<void>;
  private syncs: Promise<void> = Promise.resolve();
  private syncQueued = false;
  /** the wait estimate this socket last sent (a wake-up sends the stored one only when it changed) */
  private waitSent?: string;
  /** pings sent since the peer last showed life */
  private missed = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private expiry?: NodeJS.Timeout;
  private readonly log: Logger;

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: VisitorDeps,
    token: string | undefined,
    lastSeq: string | undefined,
  ) {
    this.log = deps.logger.child({ component: 'chat-ws' });
    // Listeners are attached before any await so no early frame is lost; frames wait for open().
    this.frames = this.open(token, lastSeq).catch((err) => this.fail(err));
    socket.on('message', (data, isBinary) => {
      this.missed = 0;
      this.frames = this.frames.then(() => this.onFrame(isBinary ? null : data.toString())).catch((err) => this.fail(err));
    });
    socket.on('close', () => {
      clearInterval(this.heartbeat);
      clearTimeout(this.expiry);
      if (this.session) deps.hub.remove(this);
    });
    // a phone that lost its network never sends a close: without pings its socket (and the hub
    // entry) would linger until the TCP timeout
    socket.on('pong', () => {
      this.missed = 0;
    });
    // two missed rounds, not one: after an event-loop stall the timer can run before a pong that
    // already arrived is processed
    this.heartbeat = setInterval(() => {
      if (this.missed >= 2) return this.socket.terminate();
      this.missed++;
      if (this.open_) this.socket.ping();
    }, deps.pingIntervalMs);
    this.heartbeat.unref();
  }

  private get open_(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  private send(frame: ServerFrame): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.open_) return reject(new Error('socket closed'));
      this.socket.send(JSON.stringify(frame), (err) => (err ? reject(err) : resolve()));
    });
  }

  private reject(reason: string): void {
    this.deps.ingest.metrics.rejected.inc({ channel: 'chat', provider: 'webchat', reason });
  }

  private refuse(message: string): void {
    this.reject('unauthorized');
    // the error frame goes first so the widget can tell "expired, create a new session" from a network drop
    this.socket.send(JSON.stringify({ type: 'error', code: 'UNAUTHORIZED', message } satisfies ServerFrame), () => this.socket.close(CLOSE_UNAUTHORIZED, 'unauthorized'));
  }

  private async open(token: string | undefined, lastSeq: string | undefined): Promise<void> {
    if (!token) return this.refuse('missing token query parameter');
    let sessionId: string;
    try {
      sessionId = this.deps.verifyToken(token);
    } catch (err) {
      return this.refuse(`invalid session token: ${(err as Error).message}`);
    }
    const session = await findSession(this.deps.pool, sessionId);
    if (!session) return this.refuse('unknown session');
    if (session.expiresAt.getTime() <= Date.now()) return this.refuse('session expired');
    if (lastSeq !== undefined && !/^[0-9]{1,15}$/.test(lastSeq)) {
      await this.send({ type: 'error', code: 'VALIDATION', message: 'lastSeq must be a non-negative integer', field: 'lastSeq' });
      this.socket.close(1008, 'bad lastSeq');
      return;
    }
    if (!this.open_) return;
    this.session = session;
    this.sessionId = session.sessionId;
    this.cursor = lastSeq === undefined ? 0 : Number(lastSeq);
    this.deps.hub.add(this);
    // the session ends for an open socket too; setTimeout takes at most 2^31-1 ms (~24.8 days)
    this.expiry = setTimeout(() => this.refuse('session expired'), Math.min(session.expiresAt.getTime() - Date.now(), 2 ** 31 - 1));
    this.expiry.unref();
    await this.send({ type: 'ready', sessionId: session.sessionId, visitorId: session.visitorId, lastSeq: this.cursor });
    this.requestSync();
  }

  private async onFrame(data: string | null): Promise<void> {
    if (!this.session || !this.open_) return;
    if (data === null) {
      this.reject('bad-frame');
      return this.send({ type: 'error', code: 'VALIDATION', message: 'binary frames are not supported, send JSON text', field: 'frame' });
    }
    const parsed = parseVisitorFrame(data);
    if (!parsed.ok) {
      this.reject('bad-frame');
      const { ok: _ok, ...error } = parsed;
      return this.send({ type: 'error', ...error });
    }
    const f = parsed.frame;
    switch (f.type) {
      case 'ping':
        return this.send({ type: 'pong' });
      case 'resume':
        this.syncs = this.syncs.then(() => {
          this.cursor = f.lastSeq;
        });
        return this.requestSync();
      case 'choice':
      case 'message': {
        // a click on a reply's button is sent on as a message whose text is the button's label
        const choice = f.type === 'choice' ? (await replyChoices(this.deps.pool, this.session.sessionId, f.outboundId))?.find((c) => c.value === f.value) : undefined;
        if (f.type === 'choice' && !choice) {
          this.reject('bad-frame');
          return this.send({ type: 'error', code: 'VALIDATION', message: 'no reply of this session offers that choice', field: 'value', clientMessageId: f.clientMessageId });
        }
        const [text, raw] = f.type === 'choice' ? [choice!.label, { choice: { outboundId: f.outboundId, value: f.value } }] : [f.text, {}];
        try {
          const [r] = await acceptInbound(this.deps.ingest, [envelopeFromVisitor(this.session, f.clientMessageId, text, new Date(), raw)]);
          return this.send({ type: 'ack', clientMessageId: f.clientMessageId, messageId: r!.messageId, duplicate: r!.status === 'duplicate' });
        } catch (err) {
          if (err instanceof ContractError) {
            // the message breaks the contract for good (e.g. a limit): say so, the widget must not re-send it
            this.reject('malformed');
            const field = (err.problems[0] ?? '').split(':')[0]!.replace(/^\//, '').replace(/\//g, '.') || 'frame';
            return this.send({ type: 'error', code: 'VALIDATION', message: err.problems.join('; '), field, clientMessageId: f.clientMessageId });
          }
          if ((err as { code?: string }).code === 'KAFKA_REJECTED') {
            this.reject('too-large');
            return this.send({ type: 'error', code: 'PAYLOAD_TOO_LARGE', message: 'message too large', field: 'text', clientMessageId: f.clientMessageId });
          }
          const unavailable = (err as { code?: string }).code === 'KAFKA_UNAVAILABLE';
          if (!unavailable) this.log.error({ err }, 'visitor message failed');
          // not acked: the widget keeps the message and re-sends it with the same clientMessageId
          return this.send({
            type: 'error',
            code: unavailable ? 'UNAVAILABLE' : 'INTERNAL',
            message: unavailable ? 'message broker unavailable, retry later' : 'internal error',
            clientMessageId: f.clientMessageId,
          });
        }
      }
    }
  }

  /** Queues one sync behind any running one; several wake-ups before it starts collapse into it. */
  requestSync(): void {
    if (this.syncQueued || !this.session) return;
    this.syncQueued = true;
    this.syncs = this.syncs
      .then(() => {
        this.syncQueued = false;
        return this.sync();
      })
      .catch((err) => {
        if (this.open_) this.log.warn({ err: (err as Error).message, sessionId: this.sessionId }, 'reply sync failed');
      });
  }

  private async sync(): Promise<void> {
    for (;;) {
      if (!this.open_) return;
      const rows = await repliesAfter(this.deps.pool, this.sessionId, this.cursor, PAGE);
      const sent: number[] = [];
      for (const r of rows) {
        if (!this.open_) break;
        await this.send({ type: 'reply', seq: r.seq, outboundId: r.outboundId, text: r.text, agentId: r.agentId, createdAt: r.createdAt, ...(r.choices ? { choices: r.choices } : {}) });
        this.cursor = r.seq;
        sent.push(r.seq);
      }
      if ((await markDelivered(this.deps.pool, this.deps.topics, this.sessionId, sent)) > 0) this.deps.kickRelay();
      if (rows.length < PAGE) return this.syncWait();
    }
  }

  /** The latest wait estimate of the visitor's queued conversation, when it is not the one this socket sent last. */
  private async syncWait(): Promise<void> {
    const w = await latestWait(this.deps.pool, this.sessionId);
    if (!w || w.eventId === this.waitSent || !this.open_) return;
    await this.send({ type: 'wait', conversationId: w.conversationId, position: w.position, estimateMs: w.estimateMs, estimator: w.estimator, at: w.at });
    this.waitSent = w.eventId;
  }

  private fail(err: unknown): void {
    // a visitor who left while we were answering is normal, not an error
    if (!this.open_) return void this.log.debug({ err: (err as Error).message }, 'chat websocket closed mid-answer');
    this.log.error({ err }, 'chat websocket failed');
    const frame: ServerFrame = { type: 'error', code: 'INTERNAL', message: 'internal error, reconnect with your lastSeq' };
    this.socket.send(JSON.stringify(frame), () => this.socket.close(1011, 'internal error'));
  }

  shutdown(): void {
    if (this.open_) this.socket.close(1001, 'server shutting down');
  }
}
