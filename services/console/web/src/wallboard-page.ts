import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { html } from './html';
import { t } from './i18n';
import { Shell, useLang } from './shell';
import { accessToken, api } from './session';

interface Agent { id: string; name: string; tiers: number[]; presence: string; connected: boolean; load: Record<string, number>; capacity: Record<string, number> }
interface Live { at: string; queues: { tier: number; waiting: number; oldestWaitingSince: string | null; slaBreached?: number; slaAtRisk?: number; offersPending?: number }[]; agents: Agent[]; work?: Record<string, WorkItem[]> }
interface WorkItem { id: string; status: string; channel: string; tier: number; category: string; openedAt: string }
// eslint-disable-next-line @typescript-eslint/no-explicit-any
interface Kpis { at: string; today: any; categories: { categories: any[] }; series: { t: number; conversations: number; fcrRate: number | null; firstResponseP50Ms: number | null; resolutionP50Ms: number | null; escalationRate: number | null }[] }

interface SlaRate { rate: number | null }
interface SlaRow { tier: number; firstResponseTime: { wall: { p50Ms: number | null }; business: { p50Ms: number | null } | null }; slaMet: { firstResponse: { wall: SlaRate; business: SlaRate | null }; resolution: { wall: SlaRate; business: SlaRate | null } } }
/** the tiers any service-level figure (SLA, estimate error, occupancy) names, in order */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const serviceTiers = (k: any): number[] =>
  [...new Set<number>([...(k?.sla ?? []), ...(k?.waitEstimateError ?? []), ...(k?.occupancy?.byTier ?? [])].map((x: { tier: number }) => x.tier))].sort((a, b) => a - b);

/** agents listed by presence: who can take work first */
const RANK: Record<string, number> = { online: 0, away: 1, offline: 2 };
const pct = (x: number | null | undefined) => (x == null ? '—' : `${Math.round(x * 100)} %`);
const dur = (ms: number | null | undefined) => (ms == null ? '—' : ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`);

/** The wallboard's push stream: server-sent events from the console server, reopened with a fresh token. */
function useWallboard() {
  const [live, setLive] = useState<Live | null>(null);
  const [kpis, setKpis] = useState<Kpis | null>(null);
  useEffect(() => {
    let es: EventSource | null = null;
    let stopped = false;
    const open = async () => {
      const token = await accessToken();
      if (stopped) return;
      es = new EventSource(`/v1/wallboard/stream?token=${encodeURIComponent(token)}`);
      es.addEventListener('live', (e) => setLive(JSON.parse((e as MessageEvent).data)));
      es.addEventListener('kpis', (e) => setKpis(JSON.parse((e as MessageEvent).data)));
      es.addEventListener('auth', () => (es?.close(), setTimeout(() => void open(), 500)));
      // EventSource retries a dropped stream by itself, but gives up on an error status (the console
      // restarting, a token that expired meanwhile): reopen with a fresh token
      es.onerror = () => {
        if (es?.readyState === EventSource.CLOSED && !stopped) setTimeout(() => void open(), 2000);
      };
    };
    void open();
    // the stream's token is checked when it opens: reopen before the access token expires
    const renew = setInterval(() => (es?.close(), void open()), 10 * 60_000);
    return () => ((stopped = true), clearInterval(renew), es?.close());
  }, []);
  return { live, kpis };
}

function Chart({ title, series, data }: { title: string; series: { label: string; stroke: string }[]; data: (number | null)[][] }) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!ref.current) return;
    plot.current?.destroy();
    plot.current = new uPlot({ width: Math.max(260, ref.current.clientWidth), height: 160, series: [{}, ...series.map((s) => ({ ...s, width: 2, spanGaps: true }))], axes: [{}, { size: 40 }], legend: { show: true } }, data as uPlot.AlignedData, ref.current);
    return () => plot.current?.destroy();
  }, [JSON.stringify(data)]);
  return html`<figure class="chart card"><figcaption>${title}</figcaption><div ref=${ref} role="img" aria-label=${title}></div></figure>`;
}

function Since({ at }: { at: string | null }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const i = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(i);
  }, []);
  return html`${at ? dur(now - Date.parse(at)) : '—'}`;
}

export default function WallboardPage() {
  useLang();
  const { live, kpis } = useWallboard();
  const [msg, setMsg] = useState('');
  const force = async (agentId: string, status: string) => {
    try {
      await api(`/router/v1/agents/${encodeURIComponent(agentId)}/presence`, { method: 'PUT', body: { status } });
      setMsg('');
    } catch (err) {
      setMsg(t('error.generic', { message: (err as Error).message }));
    }
  };
  const move = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const to = String(f.get('to') ?? '').trim();
    const note = String(f.get('note') ?? '').trim();
    try {
      await api(`/router/v1/conversations/${encodeURIComponent(String(f.get('id')))}/transfer`, { method: 'POST', body: { ...(/^[1-5]$/.test(to) ? { toTier: Number(to) } : { toAgentId: to }), ...(note ? { note } : {}) } });
      setMsg(t('wb.moved'));
      (e.target as HTMLFormElement).reset();
    } catch (err) {
      setMsg(t('error.generic', { message: (err as Error).message }));
    }
  };
  const k = kpis?.today;
  const s = kpis?.series ?? [];
  const xs = s.map((p) => p.t);
  return html`<${Shell} title=${t('wb.title')}>
    <div class="wallboard">
      <p class="muted" aria-live="polite" data-testid="wb-updated">${live ? t('wb.updated', { time: new Date(live.at).toLocaleTimeString() }) : t('wb.connecting')}</p>
      ${msg && html`<p role="status" class="notice">${msg}</p>`}
      <section class="card" aria-labelledby="wb-q"><h2 id="wb-q">${t('wb.queues')}</h2>
        <table><thead><tr><th scope="col">${t('field.tier')}</th><th scope="col">${t('wb.waiting')}</th><th scope="col">${t('wb.longest')}</th><th scope="col">${t('wb.slaAtRisk')}</th><th scope="col">${t('wb.slaBreached')}</th><th scope="col">${t('wb.offersPending')}</th></tr></thead>
        <tbody>${(live?.queues ?? []).map((q) => html`<tr data-testid="queue-row" data-tier=${q.tier}><th scope="row">T${q.tier}</th><td data-testid="waiting">${q.waiting}</td><td><${Since} at=${q.oldestWaitingSince} /></td><td data-testid="sla-at-risk">${q.slaAtRisk ?? 0}</td><td data-testid="sla-breached">${q.slaBreached ?? 0}</td><td data-testid="offers-pending">${q.offersPending ?? 0}</td></tr>`)}</tbody></table>
      </section>
      <section class="card" aria-labelledby="wb-a"><h2 id="wb-a">${t('wb.agents')}</h2>
        <table><thead><tr><th scope="col">${t('wb.name')}</th><th scope="col">${t('wb.tiers')}</th><th scope="col">${t('wb.presence')}</th><th scope="col">${t('wb.load')}</th><th scope="col">${t('wb.work')}</th><th scope="col">${t('wb.occupancy')} / ${t('wb.utilisation')}</th></tr></thead>
        <tbody>${[...(live?.agents ?? [])].sort((x, y) => RANK[x.presence]! - RANK[y.presence]! || x.name.localeCompare(y.name)).map(
          (a) => html`<tr data-testid="agent-row" data-agent=${a.id}><th scope="row">${a.name} <small>${a.id}</small></th><td>${a.tiers.join(', ')}</td>
            <td><select aria-label=${t('wb.setPresence', { name: a.name })} value=${a.presence} data-testid="agent-presence" onChange=${(e: Event) => void force(a.id, (e.target as HTMLSelectElement).value)}>
              ${['online', 'away', 'offline'].map((p) => html`<option value=${p}>${t(`presence.${p}`)}</option>`)}</select> ${a.connected ? '●' : '○'}</td>
            <td data-testid="agent-load">${Object.entries(a.capacity).map(([ch, cap]) => html`<span class="load">${ch} ${a.load[ch] ?? 0}/${cap}</span> `)}</td>
            <td data-testid="agent-work">${(live?.work?.[a.id] ?? []).map((w) => html`<span class="load" data-testid="work-item" data-conversation=${w.id} title=${`${w.category} · T${w.tier} · ${t(`wb.status.${w.status}`)}`}>${w.channel} ${w.id.slice(0, 12)}${w.status === 'offered' ? ' …' : ''}</span> `)}</td>
            <td data-testid="agent-occupancy">${((o) => (o ? `${pct(o.occupancy)} / ${pct(o.utilisation)}` : '—'))((k?.occupancy?.agents ?? []).find((x: { agentId: string }) => x.agentId === a.id))}</td></tr>`,
        )}</tbody></table>
      </section>
      <section class="card" aria-labelledby="wb-k"><h2 id="wb-k">${t('wb.kpis')}</h2>
        <div class="tiles">
          <div class="tile"><span>${t('wb.conversations')}</span><b data-testid="kpi-conversations">${k?.conversations ?? '—'}</b></div>
          <div class="tile"><span>${t('wb.fcr')}</span><b>${pct(k?.firstContactResolution?.rate)}</b></div>
          <div class="tile"><span>${t('wb.frt')}</span><b>${dur(k?.firstResponseTime?.p50Ms)}</b></div>
          <div class="tile"><span>${t('wb.resolution')}</span><b>${dur(k?.resolutionTime?.p50Ms)}</b></div>
          <div class="tile"><span>${t('wb.escalation')}</span><b>${pct(k?.escalation?.rate)}</b></div>
          <div class="tile"><span>${t('wb.csat')}</span><b>${k?.csat?.average != null ? k.csat.average.toFixed(1) : '—'}</b></div>
        </div>
        <div class="charts">
          <${Chart} title=${t('wb.chartVolume')} series=${[{ label: t('wb.conversations'), stroke: '#1f5fbf' }]} data=${[xs, s.map((p) => p.conversations)]} />
          <${Chart} title=${t('wb.chartTimes')} series=${[{ label: t('wb.frt'), stroke: '#8a4b00' }, { label: t('wb.resolution'), stroke: '#1b6e3a' }]} data=${[xs, s.map((p) => (p.firstResponseP50Ms == null ? null : p.firstResponseP50Ms / 60000)), s.map((p) => (p.resolutionP50Ms == null ? null : p.resolutionP50Ms / 60000))]} />
          <${Chart} title=${t('wb.chartRates')} series=${[{ label: t('wb.fcr'), stroke: '#1b6e3a' }, { label: t('wb.escalation'), stroke: '#a0182b' }]} data=${[xs, s.map((p) => (p.fcrRate == null ? null : p.fcrRate * 100)), s.map((p) => (p.escalationRate == null ? null : p.escalationRate * 100))]} />
        </div>
        <div class="grid2">
          <table><caption>${t('wb.escByTier')}</caption><thead><tr><th scope="col">${t('field.tier')}</th><th scope="col">${t('wb.conversations')}</th><th scope="col">${t('wb.escalated')}</th><th scope="col">%</th></tr></thead>
            <tbody>${(k?.escalation?.byTier ?? []).map((r: { tier: number; handled: number; escalated: number; rate: number | null }) => html`<tr><th scope="row">T${r.tier}</th><td>${r.handled}</td><td>${r.escalated}</td><td>${pct(r.rate)}</td></tr>`)}</tbody></table>
          <table><caption>${t('wb.paths')}</caption><thead><tr><th scope="col">${t('wb.paths')}</th><th scope="col">n</th></tr></thead>
            <tbody>${(k?.escalation?.paths ?? []).map((r: { fromTier: number | null; toTier: number; count: number }) => html`<tr><th scope="row">T${r.fromTier ?? '?'} → T${r.toTier}</th><td>${r.count}</td></tr>`)}</tbody></table>
          <table><caption>${t('wb.queueWait')}</caption><thead><tr><th scope="col">${t('field.tier')}</th><th scope="col">p50</th><th scope="col">p95</th></tr></thead>
            <tbody>${(k?.queueWait ?? []).map((r: { tier: number; p50Ms: number | null; p95Ms: number | null }) => html`<tr><th scope="row">T${r.tier}</th><td>${dur(r.p50Ms)}</td><td>${dur(r.p95Ms)}</td></tr>`)}</tbody></table>
        </div>
      </section>
      <section class="card" aria-labelledby="wb-s" data-testid="wb-service"><h2 id="wb-s">${t('wb.service')}</h2>
        ${k?.businessTime && !k.businessTime.available ? html`<p class="notice" role="status" data-testid="business-off">${t('wb.businessOff', { reason: k.businessTime.reason ?? '' })}</p>` : null}
        <table><thead><tr><th scope="col">${t('field.tier')}</th><th scope="col">${t('wb.slaFirst')}</th><th scope="col">${t('wb.slaResolution')}</th><th scope="col">${t('wb.frt')}</th><th scope="col">${t('wb.estimateError')}</th><th scope="col">${t('wb.occupancy')}</th><th scope="col">${t('wb.utilisation')}</th></tr></thead>
        <tbody>${serviceTiers(k).map((tier) => {
          const r = (k?.sla ?? []).find((x: SlaRow) => x.tier === tier);
          const e = (k?.waitEstimateError ?? []).find((x: { tier: number }) => x.tier === tier);
          const o = (k?.occupancy?.byTier ?? []).find((x: { tier: number }) => x.tier === tier);
          return html`<tr data-testid="service-row" data-tier=${tier}><th scope="row">T${tier}</th>
            <td data-testid="sla-first">${pct(r?.slaMet.firstResponse.wall.rate)} / ${pct(r?.slaMet.firstResponse.business?.rate)}</td>
            <td data-testid="sla-resolution">${pct(r?.slaMet.resolution.wall.rate)} / ${pct(r?.slaMet.resolution.business?.rate)}</td>
            <td data-testid="frt-wall-business">${dur(r?.firstResponseTime.wall.p50Ms)} / ${dur(r?.firstResponseTime.business?.p50Ms)}</td>
            <td data-testid="estimate-error">${e ? `${dur(e.medianAbsErrorMs)} / ${dur(e.p90AbsErrorMs)} (n=${e.count})` : '—'}</td>
            <td data-testid="occupancy">${pct(o?.occupancy)}</td><td data-testid="utilisation">${pct(o?.utilisation)}</td></tr>`;
        })}</tbody></table>
        <p class="muted">${t('wb.deflection')}: <b data-testid="deflection">${pct(k?.deflection?.rateOfOffered)}</b></p>
      </section>
      <section class="card" aria-labelledby="wb-p"><h2 id="wb-p">${t('wb.problems')}</h2>
        <table><thead><tr><th scope="col">${t('wb.category')}</th><th scope="col">${t('wb.conversations')}</th><th scope="col">${t('wb.escalation')}</th><th scope="col">${t('wb.recontact')}</th></tr></thead>
        <tbody>${(kpis?.categories.categories ?? []).slice(0, 15).map((c) => html`<tr><th scope="row">${c.category}</th><td>${c.conversations}</td><td>${pct(c.escalationRate)}</td><td>${pct(c.recontactRate)}</td></tr>`)}</tbody></table>
      </section>
      <section class="card" aria-labelledby="wb-m"><h2 id="wb-m">${t('wb.move')}</h2>
        <form class="inline" onSubmit=${move}>
          <label>${t('wb.conversationId')}<input name="id" required list="wb-assigned" /></label>
          <datalist id="wb-assigned">${Object.entries(live?.work ?? {}).flatMap(([agentId, items]) => items.filter((w) => w.status === 'assigned').map((w) => html`<option value=${w.id}>${agentId} · ${w.channel} · ${w.category}</option>`))}</datalist>
          <label>${t('conv.toAgent')} / ${t('conv.toTier')}<input name="to" required /></label>
          <label>${t('conv.note')}<input name="note" /></label>
          <button type="submit">${t('conv.transfer')}</button>
        </form>
      </section>
    </div>
  <//>`;
}
