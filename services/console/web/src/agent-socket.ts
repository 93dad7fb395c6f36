import type { RouterEvent } from './agent-state';

export type SocketStatus = 'connecting' | 'live' | 'reconnecting' | 'replaced';

export interface AgentSocketOptions {
  /** the token for the next connection (refreshed when stale) */
  token: () => Promise<string>;
  /** the highest seq applied so far: the router replays everything above it */
  lastSeq: () => number;
  /** the presence to take when (re)connecting: an agent who was away stays away */
  presence: () => 'online' | 'away';
  onFrame: (f: RouterEvent) => void;
  onStatus: (s: SocketStatus) => void;
  heartbeatMs?: number;
}

type Pending = { resolve: (f: RouterEvent) => void; reject: (e: Error) => void };

/**
 * The console's connection to the router (GET /router/v1/agents/ws, forwarded by the console server).
 * Reconnects by itself with `lastSeq`, so a dropped network costs nothing but a short "reconnecting"
 * badge. A ping every few seconds notices a dead link that the browser has not closed yet (a laptop
 * leaving Wi-Fi): no answer within the next beat and the socket is dropped and reopened.
 */
export class AgentSocket {
  private ws: WebSocket | null = null;
  private refSeq = 0;
  private pending = new Map<string, Pending>();
  private beat: ReturnType<typeof setInterval> | null = null;
  private waitingPong: string | null = null;
  private retry = 0;
  private stopped = false;

  constructor(private readonly o: AgentSocketOptions) {}

  async connect(): Promise<void> {
    if (this.stopped) return;
    this.o.onStatus(this.retry === 0 ? 'connecting' : 'reconnecting');
    let token: string;
    try {
      token = await this.o.token();
    } catch {
      return this.schedule();
    }
    const q = new URLSearchParams({ token, presence: this.o.presence() });
    if (this.o.lastSeq() > 0) q.set('lastSeq', String(this.o.lastSeq()));
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/router/v1/agents/ws?${q}`);
    this.ws = ws;
    ws.onmessage = (m) => {
      if (this.ws !== ws) return;
      let f: RouterEvent;
      try {
        f = JSON.parse(String(m.data)) as RouterEvent;
      } catch {
        return;
      }
      if (f.type === 'welcome') {
        this.retry = 0;
        this.o.onStatus('live');
      }
      if ((f.type === 'ack' || f.type === 'error') && typeof f.ref === 'string') {
        if (f.ref === this.waitingPong) this.waitingPong = null;
        const p = this.pending.get(f.ref);
        if (p) {
          this.pending.delete(f.ref);
          f.type === 'ack' ? p.resolve(f) : p.reject(Object.assign(new Error(f.message ?? f.code), { code: f.code }));
        }
        if (f.command === 'ping') return;
      }
      this.o.onFrame(f);
    };
    ws.onclose = (e) => this.closed(ws, e.code);
    ws.onopen = () => this.startBeat();
  }

  private closed(ws: WebSocket, code: number): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.stopBeat();
    for (const [ref, p] of this.pending) {
      this.pending.delete(ref);
      p.reject(Object.assign(new Error('connection lost before the router answered'), { code: 'CONNECTION_LOST' }));
    }
    if (code === 4001) {
      this.stopped = true;
      return this.o.onStatus('replaced');
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.o.onStatus('reconnecting');
    const delay = Math.min(5000, 300 * 2 ** this.retry++);
    setTimeout(() => void this.connect(), delay);
  }

  private startBeat(): void {
    this.stopBeat();
    this.beat = setInterval(() => {
      if (this.waitingPong) {
        // the last ping was never answered: the link is dead even if the socket looks open
        const ws = this.ws;
        if (!ws) return;
        ws.onclose = null;
        ws.close();
        this.closed(ws, 4999);
        return;
      }
      const ref = `hb${++this.refSeq}`;
      this.waitingPong = ref;
      this.ws?.send(JSON.stringify({ type: 'ping', ref }));
    }, this.o.heartbeatMs ?? 3000);
  }

  private stopBeat(): void {
    if (this.beat) clearInterval(this.beat);
    this.beat = null;
    this.waitingPong = null;
  }

  /** Sends a command; resolves with its ack, rejects with its error (or when the link drops first). */
  send(cmd: Record<string, unknown>): Promise<RouterEvent> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(Object.assign(new Error('not connected'), { code: 'NOT_CONNECTED' }));
    const ref = `c${++this.refSeq}`;
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve, reject });
      ws.send(JSON.stringify({ ...cmd, ref }));
    });
  }

  stop(): void {
    this.stopped = true;
    this.stopBeat();
    this.ws?.close(1000);
    this.ws = null;
  }
}
