import type { ServerResponse } from 'node:http';
import type { Logger } from '@omni/logging';
import { hourPoint, hoursOfToday, type HourPoint, type KpiAnswer } from './kpi-series';

export interface WallboardSources {
  routerUrl: string;
  historyUrl: string;
  pollMs: number;
  kpiPollMs: number;
  logger: Logger;
}

class UpstreamRefused extends Error {
  constructor(readonly status: number, readonly what: string) {
    super(`${what} answered ${status}`);
  }
}

/**
 * One supervisor's live wallboard as server-sent events. Neither the router nor history pushes queue
 * or agent state, so the console server polls them with the supervisor's own token (each upstream
 * still decides what that token may read) and pushes a `live` event only when something changed, a
 * `kpis` event when today's figures changed. An upstream 401/403 (expired token) ends the stream with
 * an `auth` event: the page refreshes its token and reconnects.
 */
export class WallboardStream {
  private closed = false;
  private lastLive = '';
  private lastKpis = '';
  private timers: NodeJS.Timeout[] = [];
  /** hourly points of past hours, recomputed every 5 minutes (late resolutions still change them) */
  private pastHours = new Map<number, { point: HourPoint; at: number }>();

  constructor(private readonly res: ServerResponse, private readonly token: string, private readonly src: WallboardSources) {}

  start(): void {
    this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    this.res.write('retry: 2000\n\n');
    const loop = (fn: () => Promise<void>, every: number) => {
      const tick = async () => {
        if (this.closed) return;
        try {
          await fn();
        } catch (err) {
          if (err instanceof UpstreamRefused && (err.status === 401 || err.status === 403)) {
            this.send('auth', { status: err.status, message: err.message });
            return this.close();
          }
          this.send('problem', { message: (err as Error).message });
        }
        if (!this.closed) this.timers.push(setTimeout(tick, every));
      };
      void tick();
    };
    loop(() => this.pollLive(), this.src.pollMs);
    loop(() => this.pollKpis(), this.src.kpiPollMs);
    const keepAlive = setInterval(() => this.res.write(': keep-alive\n\n'), 15000);
    this.timers.push(keepAlive as unknown as NodeJS.Timeout);
    this.res.on('close', () => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t), clearInterval(t);
    this.res.end();
  }

  private send(event: string, data: unknown): void {
    if (this.closed) return;
    this.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private async get<T>(base: string, path: string): Promise<T> {
    const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(10000) });
    if (!r.ok) throw new UpstreamRefused(r.status, `GET ${path}`);
    return (await r.json()) as T;
  }

  private async pollLive(): Promise<void> {
    const [queues, agents, current] = await Promise.all([
      this.get<{ tiers: { tier: number; waiting: number; oldestWaitingSince: string | null; slaBreached: number; slaAtRisk: number; offersPending: number }[] }>(this.src.routerUrl, '/v1/queues'),
      this.get<{ agents: unknown[] }>(this.src.routerUrl, '/v1/admin/agents'),
      this.get<{ agents: { agentId: string; conversations: unknown[] }[] }>(this.src.routerUrl, '/v1/agents/work'),
    ]);
    const work = Object.fromEntries(current.agents.map((a) => [a.agentId, a.conversations]));
    const live = JSON.stringify({ queues: queues.tiers, agents: agents.agents, work });
    if (live === this.lastLive) return;
    this.lastLive = live;
    this.send('live', { at: new Date().toISOString(), queues: queues.tiers, agents: agents.agents, work });
  }

  private async pollKpis(): Promise<void> {
    const now = new Date();
    const hours = hoursOfToday(now);
    const from = hours[0]!.toISOString();
    const [today, categories] = await Promise.all([
      this.get<KpiAnswer>(this.src.historyUrl, `/v1/kpis?from=${encodeURIComponent(from)}`),
      this.get<{ categories: unknown[]; byEscalationRate: string[]; byRecontactRate: string[] }>(this.src.historyUrl, `/v1/kpis/categories?from=${encodeURIComponent(from)}`),
    ]);
    const series: HourPoint[] = [];
    for (const [i, h] of hours.entries()) {
      const current = i === hours.length - 1;
      const cached = this.pastHours.get(h.getTime());
      if (!current && cached && now.getTime() - cached.at < 300_000) {
        series.push(cached.point);
        continue;
      }
      const to = current ? new Date(now.getTime() + 1000) : new Date(h.getTime() + 3_600_000);
      const k = await this.get<KpiAnswer>(this.src.historyUrl, `/v1/kpis?from=${encodeURIComponent(h.toISOString())}&to=${encodeURIComponent(to.toISOString())}`);
      const point = hourPoint(h, k);
      if (!current) this.pastHours.set(h.getTime(), { point, at: now.getTime() });
      series.push(point);
    }
    const body = JSON.stringify({ today, categories, series });
    if (body === this.lastKpis) return;
    this.lastKpis = body;
    this.send('kpis', { at: now.toISOString(), today, categories, series });
  }
}
