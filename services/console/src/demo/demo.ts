/**
 * `npm run demo`: the whole system with people in it. Starts the stack if it is not running
 * (deploy/stack.sh), creates the demo accounts, then drives realistic traffic on all four channels
 * through the real provider routes (web chat sessions and websocket; Postmark e-mail with its basic
 * auth; Twilio SMS and Meta Messenger with valid signatures) while simulated agents accept, reply,
 * escalate with handoff notes and resolve at a human pace. Two console seats stay free for a person:
 * sign in at http://127.0.0.1:8088 as maria (tiers 1–2) or tomas (tier 1), or as the supervisor or
 * admin, all with the password printed at start. Runs until Ctrl-C (or DEMO_SECONDS).
 */
import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { mintAccessToken } from '@omni/auth';
import { expectedTwilioSignature } from '@omni/ingest-phone/src/domain/twilio-signature';
import { HANDOFF_NOTES, NAMES, PROBLEMS, REPLIES, type Problem } from './scripts';

const root = join(__dirname, '..', '..', '..', '..');
const devEnv = Object.fromEntries(
  readFileSync(join(root, 'deploy', 'dev.env'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const env = (k: string) => process.env[k] ?? devEnv[k] ?? '';
const base = Number(process.env.STACK_PORT_BASE ?? 8081);
const url = { chat: base, email: base + 1, phone: base + 2, social: base + 3, router: base + 4, history: base + 5, knowledge: base + 6, console: base + 7 };
const at = (port: number) => `http://127.0.0.1:${port}`;
const PASSWORD = process.env.DEMO_PASSWORD ?? 'demo-password-2026';
const SECONDS = Number(process.env.DEMO_SECONDS ?? 0);
/** new conversations per minute (default 8: enough to see queues move, not to drown two people) */
const RATE = Number(process.env.DEMO_RATE_PER_MIN ?? 8);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const between = (lo: number, hi: number) => lo + Math.random() * (hi - lo);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${m}`);

async function ready(port: number): Promise<boolean> {
  return fetch(`${at(port)}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
}

async function ensureStack(): Promise<void> {
  const all = await Promise.all(Object.values(url).map(ready));
  if (all.every(Boolean)) return log('stack: already running');
  log('stack: starting it (npm start)…');
  const r = spawnSync('bash', [join(root, 'deploy', 'stack.sh'), 'start'], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) throw new Error('the stack did not start; see .run/stack/*.log');
}

const admin = () => mintAccessToken(env('JWT_SECRET'), { sub: 'demo', role: 'admin' }, 3600);
async function call(port: number, path: string, method: string, body: unknown, ok: number[] = [200, 201]) {
  const r = await fetch(`${at(port)}${path}`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${admin()}` }, body: JSON.stringify(body) });
  if (!ok.includes(r.status)) throw new Error(`${method} ${path} → ${r.status} ${await r.text()}`);
}

interface AgentSpec { id: string; name: string; tiers: number[]; languages: string[]; sim: boolean }
const AGENTS: AgentSpec[] = [
  { id: 'maria', name: 'María (you)', tiers: [1, 2], languages: ['es', 'en'], sim: false },
  { id: 'tomas', name: 'Tomás (you)', tiers: [1], languages: ['es', 'en'], sim: false },
  { id: 'sim-lucas', name: 'Lucas (sim)', tiers: [1], languages: ['es', 'en'], sim: true },
  { id: 'sim-irene', name: 'Irene (sim)', tiers: [1], languages: ['es', 'en'], sim: true },
  { id: 'sim-paul', name: 'Paul (sim)', tiers: [2], languages: ['en', 'es'], sim: true },
  { id: 'sim-nuria', name: 'Nuria (sim)', tiers: [3], languages: ['es', 'en'], sim: true },
  { id: 'sim-kai', name: 'Kai (sim)', tiers: [4], languages: ['en'], sim: true },
  { id: 'sim-amelie', name: 'Amélie (sim)', tiers: [5], languages: ['de', 'fr', 'en'], sim: true },
];

async function seed(): Promise<void> {
  for (const a of AGENTS) {
    await call(url.router, `/v1/admin/agents/${a.id}`, 'PUT', { name: a.name, tiers: a.tiers, skills: [], languages: a.languages, capacity: { chat: 2, email: 3, phone: 1, sms: 2, messenger: 2, instagram: 2, whatsapp: 2 } });
  }
  const accounts: [string, string][] = [['maria', 'agent'], ['tomas', 'agent'], ['supervisora', 'supervisor'], ['admin', 'admin']];
  for (const [id, role] of accounts) await call(url.router, '/v1/accounts', 'POST', { id, username: id, role, password: PASSWORD }, [201, 409]);
}

/** A simulated agent: its own console websocket, working offers at a human pace. */
function simulate(a: AgentSpec, stop: () => boolean): void {
  let lastSeq = 0;
  const lang = new Map<string, Problem['lang']>();
  const connect = () => {
    if (stop()) return;
    const token = mintAccessToken(env('JWT_SECRET'), { sub: a.id, role: 'agent' }, 3600);
    const ws = new WebSocket(`ws://127.0.0.1:${url.router}/v1/agents/ws?token=${token}${lastSeq ? `&lastSeq=${lastSeq}` : ''}`);
    const send = (cmd: object) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(cmd));
    const work = async (id: string, tier: number, channel: string) => {
      await sleep(between(4000, 12000));
      const l = lang.get(id) ?? 'en';
      send({ type: 'reply', conversationId: id, text: pick(REPLIES[l]), ...(channel === 'email' ? { subject: 'Re: your request' } : {}) });
      await sleep(between(8000, 25000));
      if (tier < 3 && Math.random() < 0.25) {
        send({ type: 'escalate', conversationId: id, note: pick(HANDOFF_NOTES) });
        log(`${a.id} escalated ${id} from tier ${tier}`);
      } else {
        send({ type: 'resolve', conversationId: id });
        log(`${a.id} resolved ${id}`);
      }
    };
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      if (typeof f.seq === 'number') lastSeq = Math.max(lastSeq, f.seq);
      if (f.type === 'offer') {
        const text: string = f.conversation?.lastText ?? '';
        lang.set(f.conversationId, (f.conversation?.language as Problem['lang']) ?? (/[áéíóñ¿¡]/.test(text) ? 'es' : 'en'));
        void sleep(between(2000, 6000)).then(() => {
          send({ type: 'accept', conversationId: f.conversationId });
          void work(f.conversationId, f.conversation?.tier ?? 1, f.conversation?.channel ?? 'chat');
        });
      }
    });
    ws.on('close', () => void sleep(2000).then(connect));
    ws.on('error', () => undefined);
  };
  connect();
}

let n = 0;
/** One customer writes on one channel through that channel's real provider route. */
async function customer(): Promise<void> {
  const p = pick(PROBLEMS);
  const name = pick(NAMES[p.lang]);
  const channel = pick(['chat', 'chat', 'email', 'phone', 'social'] as const);
  const id = `${Date.now().toString(36)}${(++n).toString(36)}`;
  const followUp = p.followUp && Math.random() < 0.6 ? p.followUp : undefined;
  if (channel === 'chat') {
    const key = env('ADAPTER_API_KEYS').split(',')[0]!.split(':')[1]!;
    const s = (await (await fetch(`${at(url.chat)}/v1/chat/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ name, language: p.lang }) })).json()) as { token: string };
    const ws = new WebSocket(`ws://127.0.0.1:${url.chat}/v1/chat/ws?token=${encodeURIComponent(s.token)}`);
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'message', clientMessageId: 'c1', text: p.text }));
      if (followUp) void sleep(between(15000, 40000)).then(() => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ type: 'message', clientMessageId: 'c2', text: followUp })));
      setTimeout(() => ws.close(), 180_000);
    });
    ws.on('error', () => undefined);
  } else if (channel === 'email') {
    const [user, pass] = env('POSTMARK_BASIC_AUTH').split(':');
    const from = `${name.toLowerCase().normalize('NFD').replace(/[^a-z]/g, '.')}.${id}@customer.example`;
    await fetch(`${at(url.email)}/v1/email/inbound/postmark`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
      body: JSON.stringify({ MessageID: `demo-${id}`, From: from, FromName: name, To: 'support@example.com', Subject: p.subject ?? 'Help', TextBody: p.text, Headers: [{ Name: 'Message-ID', Value: `<demo-${id}@customer.example>` }] }),
    });
  } else if (channel === 'phone') {
    const form: Record<string, string> = { MessageSid: `SM${randomBytes(16).toString('hex')}`, AccountSid: 'AC00112233445566778899aabbccddeeff', From: `+34600${String(100000 + (n % 900000)).padStart(6, '0')}`, To: '+34910000001', Body: p.text, NumMedia: '0' };
    const publicUrl = process.env.TWILIO_PUBLIC_URL ?? `http://127.0.0.1:${url.phone}`;
    await fetch(`${at(url.phone)}/v1/phone/twilio/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': expectedTwilioSignature(env('TWILIO_AUTH_TOKEN'), `${publicUrl}/v1/phone/twilio/sms`, form) },
      body: new URLSearchParams(form).toString(),
    });
  } else {
    const body = JSON.stringify({ object: 'page', entry: [{ id: '104857600123456', time: Date.now(), messaging: [{ sender: { id: `psid-${id}` }, recipient: { id: '104857600123456' }, timestamp: Date.now(), message: { mid: `m_demo_${id}`, text: p.text } }] }] });
    await fetch(`${at(url.social)}/v1/social/meta`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${createHmac('sha256', env('META_APP_SECRET')).update(body).digest('hex')}` }, body });
  }
  log(`${name} (${p.lang}) on ${channel}: ${p.text.slice(0, 60)}`);
}

async function main(): Promise<void> {
  await ensureStack();
  await seed();
  console.log(`
  ┌──────────────────────────────────────────────────────────────────────┐
  │ Open http://127.0.0.1:${url.console}                                           │
  │   agent seats: maria (tiers 1–2), tomas (tier 1)                     │
  │   supervisor:  supervisora      admin: admin                         │
  │   password:    ${PASSWORD.padEnd(54)}│
  └──────────────────────────────────────────────────────────────────────┘`);
  const started = Date.now();
  const stop = () => (SECONDS > 0 && Date.now() - started > SECONDS * 1000) || stopping;
  let stopping = false;
  process.on('SIGINT', () => ((stopping = true), setTimeout(() => process.exit(0), 500)));
  for (const a of AGENTS.filter((x) => x.sim)) simulate(a, stop);
  while (!stop()) {
    await customer().catch((err: Error) => log(`traffic: ${err.message}`));
    await sleep(between(0.5, 1.5) * (60_000 / RATE));
  }
  process.exit(0);
}

void main().catch((err: Error) => {
  console.error(`demo: ${err.message}`);
  process.exit(1);
});
