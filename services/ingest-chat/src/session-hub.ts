import { Client } from 'pg';
import type { Logger } from '@omni/logging';
import { REPLY_NOTIFY_CHANNEL } from './session-store';

/** What the hub needs from a connected visitor socket. */
export interface SessionSocket {
  readonly sessionId: string;
  /** Reads stored replies after the socket's cursor and sends them (coalesced, in order). */
  requestSync(): void;
  /** Closes the socket (server shutting down). */
  shutdown(): void;
}

/**
 * The visitor sockets of this replica, by session, woken by Postgres NOTIFY when a reply for their
 * session was stored by whichever replica's consumer got it. NOTIFY is only a wake-up: the socket
 * reads the table, so a notification lost while the listener reconnects costs latency, not a reply
 * (after reconnecting every local socket re-syncs).
 */
export class SessionHub {
  private readonly sockets = new Map<string, Set<SessionSocket>>();
  private listener?: Client;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.listen();
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl });
    client.on('notification', (n) => {
      if (n.channel === REPLY_NOTIFY_CHANNEL && n.payload) this.wake(n.payload);
    });
    const lost = (err?: Error) => {
      if (this.stopped || this.listener !== client) return;
      this.listener = undefined;
      this.logger.warn({ err: err?.message }, 'chat reply listener lost; reconnecting');
      client.end().catch(() => undefined);
      this.retry = setTimeout(() => void this.reconnect(), 1000);
      this.retry.unref();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    await client.query(`LISTEN ${REPLY_NOTIFY_CHANNEL}`);
    this.listener = client;
  }

  private async reconnect(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.listen();
      // replies stored while nobody listened: every local socket catches up from the table
      for (const id of this.sockets.keys()) this.wake(id);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'chat reply listener reconnect failed');
      this.retry = setTimeout(() => void this.reconnect(), 2000);
      this.retry.unref();
    }
  }

  add(s: SessionSocket): void {
    let set = this.sockets.get(s.sessionId);
    if (!set) this.sockets.set(s.sessionId, (set = new Set()));
    set.add(s);
  }

  remove(s: SessionSocket): void {
    const set = this.sockets.get(s.sessionId);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.sockets.delete(s.sessionId);
  }

  /** Wakes this replica's sockets of a session. */
  wake(sessionId: string): void {
    for (const s of this.sockets.get(sessionId) ?? []) s.requestSync();
  }

  get connectedSessions(): number {
    return this.sockets.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    for (const set of this.sockets.values()) for (const s of set) s.shutdown();
    this.sockets.clear();
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
  }
}
