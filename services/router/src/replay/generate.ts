import type { Channel, InboundMessage } from '@omni/contracts';
import type { AgentBehaviour, Handling, OfferContext, OfferResponse } from './behaviour';
import type { AgentProfile, RecordedInput, Recording } from './types';

/**
 * Generated traffic for tests and the bench: a seeded, deterministic "scripted" day or week of
 * mixed-channel conversations (follow-ups, reopens, a share needing escalation), agents on shifts
 * with breaks, and a scripted agent behaviour standing in for the people who answered live.
 */

/** A small seeded hash → [0, 1): the same (seed, parts) always gives the same number. */
export function unit(seed: number, ...parts: (string | number)[]): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const p of parts) {
    const s = String(p);
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ 0xff, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** Texts the default rules classify into these categories (tier in the comment). */
export const TEMPLATES: { category: string; text: string; language?: string; weight: number }[] = [
  { category: 'access-passwords', text: 'I forgot my password and now I am locked out', weight: 14 }, // 1
  { category: 'orders-shipping', text: 'My order has not arrived, the tracking page shows nothing', weight: 14 }, // 1
  { category: 'returns-refunds', text: 'I was charged twice and would like a refund please', weight: 10 }, // 1
  { category: 'connectivity', text: 'The wifi keeps dropping every few minutes at home', weight: 10 }, // 1
  { category: 'installs-updates', text: 'How do I install the new version on my laptop?', weight: 8 }, // 1
  { category: 'device-setup', text: 'I need help to set up my new printer', weight: 6 }, // 1
  { category: 'general', text: 'Hello, I have a question about your company', weight: 8 }, // 1
  { category: 'databases', text: 'Our nightly database backup did not complete', weight: 8 }, // 2
  { category: 'apis', text: 'The webhook endpoint answers with http 500 since this morning', weight: 7 }, // 2
  { category: 'integrations', text: 'The Salesforce integration stopped syncing contacts', weight: 4 }, // 2
  { category: 'servers', text: 'Kernel panic on our production server after the reboot', weight: 4 }, // 3
  { category: 'outages', text: 'Major incident: the site is down for everyone', weight: 2 }, // 3
  { category: 'foreign-language', text: "Bonjour, je n'arrive pas à accéder à mon compte depuis hier soir", language: 'fr', weight: 5 }, // 5
];

const CHANNEL_MIX: { channel: Channel; weight: number; capacity: number }[] = [
  { channel: 'chat', weight: 35, capacity: 2 },
  { channel: 'email', weight: 25, capacity: 3 },
  { channel: 'whatsapp', weight: 20, capacity: 2 },
  { channel: 'phone', weight: 12, capacity: 1 },
  { channel: 'sms', weight: 8, capacity: 1 },
];

function pick<T extends { weight: number }>(xs: T[], u: number): T {
  const total = xs.reduce((s, x) => s + x.weight, 0);
  let r = u * total;
  for (const x of xs) if ((r -= x.weight) < 0) return x;
  return xs[xs.length - 1]!;
}

export interface GenerateOptions {
  seed: number;
  /** epoch ms of the first day's midnight UTC */
  start: number;
  days: number;
  conversations: number;
  agents: number;
}

const pad = (n: number, w = 6) => String(n).padStart(w, '0');

export function message(id: string, threadKey: string, channel: Channel, address: string, text: string, at: number, language?: string): InboundMessage {
  const iso = new Date(at).toISOString();
  return {
    schema: 'omni.inbound.v1',
    messageId: id,
    channel,
    provider: 'replay-gen',
    providerMessageId: id,
    threadKey,
    from: { channel, address },
    sentAt: iso,
    receivedAt: iso,
    text,
    ...(language ? { language } : {}),
  };
}

/** Agents: 60 % tier 1, 25 % tier 2 (database/API/integration skills), 10 % tier 3, 8 % tier 5; three 8-hour shifts with a 30-minute break. */
export function generateAgents(o: GenerateOptions): { agents: AgentProfile[]; inputs: RecordedInput[] } {
  const agents: AgentProfile[] = [];
  const inputs: RecordedInput[] = [];
  const capacity = Object.fromEntries(CHANNEL_MIX.map((c) => [c.channel, c.capacity]));
  for (let i = 0; i < o.agents; i++) {
    const id = `agent-${pad(i, 4)}`;
    const r = (i % 20) * 2.5;
    const [tiers, skills, languages]: [number[], string[], string[]] =
      r < 30 ? [[1], ['social'], ['en', 'es']] : r < 41 ? [[2], ['databases', 'apis', 'integrations'], ['en', 'es']] : r < 46 ? [[3, 2], ['infrastructure', 'databases', 'apis', 'integrations'], ['en']] : [[5], ['translation'], ['en', 'fr', 'de']];
    const shift = i % 3; // 00-08, 08-16, 16-24 (more agents on the day shift below)
    const dayShift = unit(o.seed, 'dayshift', id) < 0.25;
    const startH = dayShift ? 8 : shift * 8;
    agents.push({ id, tiers, skills, languages, capacity, presence: 'offline', idleSince: o.start });
    for (let d = 0; d < o.days; d++) {
      const on = o.start + d * 86_400_000 + startH * 3_600_000 + Math.floor(unit(o.seed, 'on', id, d) * 600_000);
      const brk = on + 3 * 3_600_000 + Math.floor(unit(o.seed, 'brk', id, d) * 7_200_000);
      inputs.push({ kind: 'presence', at: on, agentId: id, presence: 'online' });
      inputs.push({ kind: 'presence', at: brk, agentId: id, presence: 'away' });
      inputs.push({ kind: 'presence', at: brk + 1_800_000, agentId: id, presence: 'online' });
      inputs.push({ kind: 'presence', at: on + 8 * 3_600_000, agentId: id, presence: 'offline' });
    }
  }
  return { agents, inputs };
}

/** A scripted window: agents, their presence, and customers' messages (first message, follow-ups, late reopens). */
export function generateRecording(o: GenerateOptions): Recording {
  const { agents, inputs } = generateAgents(o);
  const span = o.days * 86_400_000;
  for (let i = 0; i < o.conversations; i++) {
    const s = o.seed;
    // daytime-heavy arrivals: 2/3 between 08:00 and 20:00
    const day = Math.floor(unit(s, 'day', i) * o.days);
    const inDay = unit(s, 'busy', i) < 0.67 ? 8 * 3_600_000 + unit(s, 't', i) * 12 * 3_600_000 : unit(s, 't', i) * 86_400_000;
    const at = o.start + day * 86_400_000 + Math.floor(inDay);
    const ch = pick(CHANNEL_MIX, unit(s, 'ch', i)).channel;
    const t = pick(TEMPLATES, unit(s, 'tpl', i));
    const address = `cust-${pad(Math.floor(unit(s, 'cust', i) * o.conversations * 0.7))}`;
    const threadKey = `${ch}:thread-${pad(i)}`;
    inputs.push({ kind: 'message', at, message: message(`m-${pad(i)}-0`, threadKey, ch, address, t.text, at, t.language), customer: { attributes: unit(s, 'vip', i) < 0.05 ? { vip: true } : {}, displayName: null } });
    if (unit(s, 'follow', i) < 0.3) {
      const f = at + 60_000 + Math.floor(unit(s, 'ft', i) * 540_000);
      if (f < o.start + span) inputs.push({ kind: 'message', at: f, message: message(`m-${pad(i)}-1`, threadKey, ch, address, 'Any news on this?', f) });
    }
    if (unit(s, 'reopen', i) < 0.05) {
      const f = at + 2 * 3_600_000 + Math.floor(unit(s, 'rt', i) * 3_600_000);
      if (f < o.start + span) inputs.push({ kind: 'message', at: f, message: message(`m-${pad(i)}-2`, threadKey, ch, address, 'It happened again, sorry', f) });
    }
  }
  return { from: o.start, to: o.start + span, inputs, agents, decisions: [] };
}

const HANDLING_MIN: Record<number, number> = { 1: 6, 2: 18, 3: 30, 4: 30, 5: 12 };

/**
 * The people behind a generated recording, scripted: 4 % of offers rejected, 3 % left to lapse,
 * the rest accepted after 2–14 s; handling time by tier (log-spread around 6/18/30/12 min); 12 % of
 * tier-1 error/connectivity/general conversations escalated to tier 2 with a note.
 */
export class ScriptedBehaviour implements AgentBehaviour {
  readonly stats = { recorded: 0, modelled: 0 };
  constructor(private readonly seed: number) {}
  onOffer(ctx: OfferContext): OfferResponse {
    this.stats.modelled++;
    const u = unit(this.seed, 'offer', ctx.conversation.id, ctx.agentId, ctx.nth);
    if (u < 0.04) return { kind: 'reject', delayMs: 3000 + Math.floor(u * 50_000), reason: 'busy with a call' };
    if (u < 0.07) return { kind: 'none' };
    return { kind: 'accept', delayMs: 2000 + Math.floor(unit(this.seed, 'ad', ctx.conversation.id, ctx.agentId, ctx.nth) * 12_000) };
  }
  onAssigned(ctx: OfferContext): Handling {
    this.stats.modelled++;
    const c = ctx.conversation;
    const spread = Math.exp((unit(this.seed, 'h', c.id, ctx.agentId, ctx.nth) - 0.5) * 1.6);
    const durationMs = Math.floor((HANDLING_MIN[c.tier] ?? 10) * 60_000 * spread);
    if (c.tier === 1 && ['general', 'connectivity', 'installs-updates'].includes(c.category) && unit(this.seed, 'esc', c.id) < 0.12)
      return { kind: 'escalate', durationMs, toTier: 2, note: 'customer needs a deeper look at the network side' };
    return { kind: 'resolve', durationMs };
  }
}
