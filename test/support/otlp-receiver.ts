import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One span as an OTLP receiver sees it, ids in hex, times in ms. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  /** OTLP status code: 0 unset, 1 ok, 2 error */
  status: number;
}

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value?: AnyValue };

// OTLP/JSON carries ids as hex; protobuf-JSON mappings use base64: accept both
const hexId = (id: unknown, len: number): string | undefined => {
  if (typeof id !== 'string' || id === '') return undefined;
  if (new RegExp(`^[0-9a-f]{${len}}$`, 'i').test(id)) return id.toLowerCase();
  const hex = Buffer.from(id, 'base64').toString('hex');
  return hex.length === len ? hex : undefined;
};

const valueOf = (v: AnyValue | undefined): unknown =>
  v === undefined ? undefined : (v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue)));

const attrs = (list: KeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

/**
 * A minimal OTLP/HTTP trace receiver (the JSON encoding the @opentelemetry/exporter-trace-otlp-http
 * exporter sends) on a port of its own: keeps every span it was sent, so a test can assert a trace.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private server?: Server;
  /** requests that were not OTLP JSON (content type, parse errors): a test can assert there are none */
  readonly refused: string[] = [];

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          if (req.method !== 'POST' || req.url !== '/v1/traces') throw new Error(`${req.method} ${req.url}`);
          if (!/json/.test(req.headers['content-type'] ?? '')) throw new Error(`content-type ${req.headers['content-type']}`);
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          this.accept(JSON.parse(body.toString('utf8')));
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch (err) {
          this.refused.push((err as Error).message);
          res.writeHead(400, { 'content-type': 'application/json' }).end('{}');
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  private accept(req: { resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[] }): void {
    for (const rs of req.resourceSpans ?? []) {
      const service = String(attrs(rs.resource?.attributes)['service.name'] ?? 'unknown');
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? []) {
          this.spans.push({
            service,
            traceId: hexId(s.traceId, 32)!,
            spanId: hexId(s.spanId, 16)!,
            parentSpanId: hexId(s.parentSpanId, 16),
            name: String(s.name),
            kind: Number(s.kind ?? 0),
            startMs: Number(BigInt(String(s.startTimeUnixNano)) / 1000n) / 1000,
            endMs: Number(BigInt(String(s.endTimeUnixNano)) / 1000n) / 1000,
            attributes: attrs(s.attributes as KeyValue[]),
            links: ((s.links as { traceId: string; spanId: string }[] | undefined) ?? []).map((l) => ({ traceId: hexId(l.traceId, 32)!, spanId: hexId(l.spanId, 16)! })),
            status: Number((s.status as { code?: number } | undefined)?.code ?? 0),
          });
        }
    }
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  /** The trace as an indented tree with each span's service and duration (for a failure message or the docs). */
  render(traceId: string): string {
    const spans = this.trace(traceId).sort((a, b) => a.startMs - b.startMs);
    const ids = new Set(spans.map((s) => s.spanId));
    const t0 = spans[0]?.startMs ?? 0;
    const lines: string[] = [];
    const walk = (parent: string | undefined, depth: number) => {
      for (const s of spans.filter((x) => (parent === undefined ? !x.parentSpanId || !ids.has(x.parentSpanId) : x.parentSpanId === parent))) {
        lines.push(`${'  '.repeat(depth)}${s.name} [${s.service}] +${(s.startMs - t0).toFixed(1)} ms, ${(s.endMs - s.startMs).toFixed(1)} ms`);
        walk(s.spanId, depth + 1);
      }
    };
    walk(undefined, 0);
    return lines.join('\n');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
