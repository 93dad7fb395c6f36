import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type: string; seq?: number; conversationId?: string; ref?: string | null };

/**
 * A test agent console over a real websocket: keeps every frame it received and lets a test wait
 * for one (no sleeps), send commands and await their ack or error frame.
 */
export class AgentClient {
  readonly frames: Frame[] = [];
  private waiters: (() => void)[] = [];
  private refs = 0;
  /** called for every frame received (after it is recorded) */
  onFrame?: (f: Frame) => void;
  closed = false;
  closeCode?: number;

  private constructor(
    readonly agentId: string,
    readonly ws: WebSocket,
  ) {}

  static async connect(baseUrl: string, agentId: string, token: string, opts: { lastSeq?: number; presence?: 'online' | 'away'; onFrame?: (c: AgentClient, f: Frame) => void } = {}): Promise<AgentClient> {
    const url = new URL('/v1/agents/ws', baseUrl.replace(/^http/, 'ws'));
    url.searchParams.set('token', token);
    if (opts.lastSeq !== undefined) url.searchParams.set('lastSeq', String(opts.lastSeq));
    if (opts.presence) url.searchParams.set('presence', opts.presence);
    const ws = new WebSocket(url);
    const client = new AgentClient(agentId, ws);
    if (opts.onFrame) client.onFrame = opts.onFrame.bind(null, client);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      client.frames.push(frame);
      client.onFrame?.(frame);
      client.notify();
    });
    ws.on('close', (code) => {
      client.closed = true;
      client.closeCode = code;
      client.notify();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`websocket refused with HTTP ${res.statusCode}`)));
    });
    await client.waitFor((f) => f.type === 'welcome');
    return client;
  }

  private notify(): void {
    const ws = this.waiters;
    this.waiters = [];
    ws.forEach((f) => f());
  }

  /** Waits until `count` frames match; fails with what was received after the deadline. */
  async waitFor(pred: (f: Frame) => boolean, count = 1, timeoutMs = 60000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.filter(pred);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed)
        throw new Error(`${this.agentId}: ${this.closed ? 'socket closed' : 'timed out'} waiting for ${count} frame(s); got ${JSON.stringify(this.frames.map((f) => [f.type, f.conversationId, f.seq]))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the next offer (optionally of one conversation) and returns it. */
  async offer(conversationId?: string, timeoutMs = 60000): Promise<Frame> {
    const offers = await this.waitFor((f) => f.type === 'offer' && (!conversationId || f.conversationId === conversationId), 1, timeoutMs);
    return offers[offers.length - 1]!;
  }

  /** Sends a command without waiting for its answer. */
  fire(cmd: Record<string, unknown>): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ ...cmd, ref: `f${++this.refs}` }));
  }

  /** Sends a command and resolves with its ack or error frame. */
  async command(cmd: Record<string, unknown>): Promise<Frame> {
    const ref = `r${++this.refs}`;
    this.ws.send(JSON.stringify({ ...cmd, ref }));
    const [answer] = await this.waitFor((f) => (f.type === 'ack' || f.type === 'error') && f.ref === ref);
    return answer!;
  }

  get seqs(): number[] {
    return this.frames.filter((f) => typeof f.seq === 'number').map((f) => f.seq!);
  }

  get lastSeq(): number {
    return Math.max(0, ...this.seqs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((r) => this.ws.once('close', () => r()));
    this.ws.close();
    await done;
  }

  /** Drops the TCP connection without a close handshake (a crashed browser tab). */
  terminate(): void {
    this.ws.terminate();
  }
}
