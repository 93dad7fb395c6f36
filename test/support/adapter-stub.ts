import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// The verifier published in docs/delivery-callbacks.md: the stub checks every callback with it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { verifyOmniCallback } = require('../../docs/examples/verify-callback.js') as {
  verifyOmniCallback: (secret: string, headers: IncomingHttpHeaders, rawBody: string, maxAgeSeconds?: number) => boolean;
};

export interface StubRequest {
  /** Date.now() when the request's headers arrived */
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: Record<string, unknown> & { outboundId: string; conversationId: string };
  verified: boolean;
}

export interface StubAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** the answer is held until this settles (a slow adapter) */
  hold?: Promise<void>;
}

/**
 * A real channel adapter listening on a port: records every callback, verifies its signature with the
 * documented snippet (secret per path), and answers from a per-conversation script (200 by default).
 */
export class AdapterStub {
  readonly requests: StubRequest[] = [];
  /** conversationId → answers to give, in order; when empty, 200 */
  readonly script = new Map<string, StubAnswer[]>();
  private server?: Server;
  private waiters: (() => void)[] = [];

  constructor(private readonly secrets: Record<string, string>) {}

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async listen(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const at = Date.now();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const rawBody = Buffer.concat(chunks).toString('utf8');
          const path = req.url ?? '/';
          const secret = this.secrets[path];
          const body = JSON.parse(rawBody) as StubRequest['body'];
          this.requests.push({ at, path, headers: req.headers, rawBody, body, verified: secret !== undefined && verifyOmniCallback(secret, req.headers, rawBody, 300) });
          const ws = this.waiters;
          this.waiters = [];
          ws.forEach((f) => f());
          const answer = this.script.get(body.conversationId)?.shift() ?? { status: 200, body: { providerMessageId: `pm-${body.outboundId}` } };
          if (answer.hold) await answer.hold;
          res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
          res.end(JSON.stringify(answer.body ?? {}));
        })();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /**
   * Listens on a free port below the kernel's ephemeral range (32768+ on Linux), for a test that must
   * stop the adapter and start it again on the same port: a port 0 choice could meanwhile be handed
   * to some outgoing connection as its local port, which would make the restart fail.
   */
  async listenOnStablePort(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        return await this.listen(20000 + Math.floor(Math.random() * 12000));
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE' || i > 50) throw err;
      }
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  of(outboundId: string): StubRequest[] {
    return this.requests.filter((r) => r.body.outboundId === outboundId);
  }

  /** Resolves once `count` requests match; fails after the deadline. */
  async waitFor(pred: (r: StubRequest) => boolean, count = 1, timeoutMs = 60000): Promise<StubRequest[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.requests.filter(pred);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${count} callback(s); got ${found.length} matching of ${this.requests.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
