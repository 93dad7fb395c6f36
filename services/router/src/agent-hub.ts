import { randomBytes } from 'node:crypto';
import { Client, type Pool } from 'pg';
import type { WebSocket } from 'ws';
import type { Logger } from '@omni/logging';
import { agentEventsAfter, EVENTS_CHANNEL, lastAgentSeqs, listenAgentChannels, notify, SESSIONS_CHANNEL, type NumberedAgentEvent } from './store/agent-events';

interface Session {
  agentId: string;
  sessionId: string;
  socket: WebSocket;
  /** highest seq sent on this socket: the cursor that makes delivery gap-free and duplicate-free */
  lastSent: number;
  chain: Promise<void>;
}


/**
 * The agent consoles attached to this replica. Events for agents live in router.agent_events
 * (numbered per agent, written in the same transaction as the state change); this hub streams each
 * socket's rows past its cursor. Any replica's commit wakes it through Postgres LISTEN/NOTIFY, and
 * a periodic poll covers a lost notification or a LISTEN connection being re-established.
 */
/** how long announcements are gathered into one NOTIFY (one per routing transaction was ~1 statement per routed message) */
const ANNOUNCE_LINGER_MS = 5;

export class AgentHub {
  private readonly sessions = new Map<string, Session>();
  private listener?: Client;
  private pollTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly replicaId = randomBytes(6).toString('hex');
  private pendingAnnounce = new Set<string>();
  private announceScheduled = false;

  constructor(
    private readonly pool: Pool,
    private readonly databaseUrl: string,
    private readonly logger: Logger,
    private readonly pollMs = 1000,
  ) {}

  async start(): Promise<void> {
    await this.listen();
    this.pollTimer = setInterval(() => void this.pollAll(), this.pollMs);
    this.pollTimer.unref();
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl });
    client.on('notification', (n) => {
      if (n.channel === EVENTS_CHANNEL && n.payload) {
        const [from, ids] = n.payload.split('|');
        if (from !== this.replicaId && ids) this.wake(ids.split(','));
      }
      if (n.channel === SESSIONS_CHANNEL && n.payload) {
        const [agentId, sessionId] = n.payload.split(' ');
        const s = agentId ? this.sessions.get(agentId) : undefined;
        // A newer console for the same agent attached (here or on another replica): this one yields.
        if (s && s.sessionId !== sessionId) s.socket.close(4001, 'replaced by a newer session');
      }
    });
    client.on('error', (err) => {
      this.logger.warn({ err }, 'agent event listener lost its connection; reconnecting');
      void client.end().catch(() => undefined);
      if (!this.stopped) setTimeout(() => void this.listen().catch((e) => this.logger.warn({ err: e }, 'listener reconnect failed')), 500).unref();
    });
    await client.connect();
    await listenAgentChannels(client);
    this.listener = client;
    // Anything committed while we were not listening is caught up now.
    void this.pollAll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    for (const s of this.sessions.values()) s.socket.close(1001, 'router shutting down');
    await Promise.all([...this.sessions.values()].map((s) => s.chain));
    await this.listener?.end().catch(() => undefined);
  }

  /** Attaches a console; events with seq > lastSent are streamed to it from now on. */
  attach(agentId: string, sessionId: string, socket: WebSocket, lastSent: number): void {
    const old = this.sessions.get(agentId);
    if (old && old.sessionId !== sessionId) old.socket.close(4001, 'replaced by a newer session');
    this.sessions.set(agentId, { agentId, sessionId, socket, lastSent, chain: Promise.resolve() });
  }

  detach(agentId: string, sessionId: string): void {
    const s = this.sessions.get(agentId);
    if (s?.sessionId === sessionId) this.sessions.delete(agentId);
  }

  /** Session ids of the consoles held here (their liveness is refreshed by the sweep). */
  localSessions(): { agentId: string; sessionId: string }[] {
    return [...this.sessions.values()].map((s) => ({ agentId: s.agentId, sessionId: s.sessionId }));
  }

  /**
   * Tells the other replicas (after commit) that these agents have new events. Coalesced over
   * ANNOUNCE_LINGER_MS into one NOTIFY outside any data transaction, so it never holds the commit
   * path; a lost announcement is covered by the poll. Consoles on this replica do not wait for it
   * (push); those on other replicas get their events up to the linger later.
   */
  announce(agentIds: string[]): void {
    for (const id of agentIds) this.pendingAnnounce.add(id);
    if (this.announceScheduled || this.stopped) return;
    this.announceScheduled = true;
    setTimeout(() => {
      this.announceScheduled = false;
      if (this.stopped) return; // the pool may be closing; the other replicas' poll covers it
      const ids = [...this.pendingAnnounce];
      this.pendingAnnounce.clear();
      // NOTIFY payloads are limited to 8000 bytes: send in chunks.
      for (let i = 0; i < ids.length; i += 50) {
        const payload = `${this.replicaId}|${ids.slice(i, i + 50).join(',')}`;
        notify(this.pool, EVENTS_CHANNEL, payload).catch((err) => this.logger.warn({ err }, 'agent event announce failed; the poll covers it'));
      }
    }, ANNOUNCE_LINGER_MS);
  }

  /** Streams new events to the given agents' sockets if they are attached here. */
  wake(agentIds: string[]): void {
    for (const id of agentIds) {
      const s = this.sessions.get(id);
      if (s) this.flush(s);
    }
  }

  /**
   * Events this replica just committed: sent straight to a local socket whose cursor they continue,
   * without reading them back; otherwise (a gap: another transaction's events are not here yet) the
   * socket streams from the table as on a wake.
   */
  push(events: NumberedAgentEvent[]): void {
    const byAgent = new Map<string, NumberedAgentEvent[]>();
    for (const e of events) byAgent.set(e.agentId, [...(byAgent.get(e.agentId) ?? []), e]);
    for (const [agentId, list] of byAgent) {
      const s = this.sessions.get(agentId);
      if (s) this.flush(s, list.sort((a, b) => a.seq - b.seq));
    }
  }

  private flush(s: Session, pushed?: NumberedAgentEvent[]): Promise<void> {
    // Flushes of one socket run one after another, so the cursor only moves forward.
    s.chain = s.chain.then(async () => {
      if (this.sessions.get(s.agentId) !== s || s.socket.readyState !== s.socket.OPEN) return;
      const fresh = pushed?.filter((e) => e.seq > s.lastSent);
      if (pushed && (fresh!.length === 0 || fresh![0]!.seq === s.lastSent + 1)) {
        for (const e of fresh!) {
          s.socket.send(JSON.stringify(e.frame));
          s.lastSent = e.seq;
        }
        return;
      }
      for (;;) {
        if (this.sessions.get(s.agentId) !== s || s.socket.readyState !== s.socket.OPEN) return;
        const rows = await agentEventsAfter(this.pool, s.agentId, s.lastSent, 500);
        for (const r of rows) {
          s.socket.send(JSON.stringify(r.frame));
          s.lastSent = r.seq;
        }
        if (rows.length < 500) return;
      }
    }).catch((err) => this.logger.warn({ err, agentId: s.agentId }, 'agent event flush failed; next wake retries'));
    return s.chain;
  }

  private async pollAll(): Promise<void> {
    if (this.sessions.size === 0) return;
    try {
      const ids = [...this.sessions.keys()];
      for (const [id, seq] of await lastAgentSeqs(this.pool, ids)) {
        const s = this.sessions.get(id);
        if (s && seq > s.lastSent) this.flush(s);
      }
    } catch (err) {
      this.logger.warn({ err }, 'agent event poll failed');
    }
  }
}

export { SESSIONS_CHANNEL };
