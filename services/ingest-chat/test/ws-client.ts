import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type: string };

/** A test websocket client that keeps every frame and the close, and waits on them (never sleeps). */
export class WsClient {
  readonly frames: Frame[] = [];
  closed?: { code: number; reason: string };
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static connect(url: string, opts: { autoPong?: boolean } = {}): Promise<WsClient> {
    const ws = new WebSocket(url, { autoPong: opts.autoPong ?? true });
    const c = new WsClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  private async until<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves with the first `count` frames matching, once they arrived. */
  waitFor(pred: (f: Frame) => boolean, count = 1, timeoutMs = 60000): Promise<Frame[]> {
    return this.until(() => {
      const found = this.frames.filter(pred);
      return found.length >= count ? found.slice(0, count) : undefined;
    }, `${count} matching frame(s)`, timeoutMs);
  }

  waitClosed(timeoutMs = 60000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed, 'close', timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.ws.close();
    await this.waitClosed();
  }
}
