import { Type, type Static } from '@sinclair/typebox';
import type { AgentSnapshot } from './match';

/**
 * After-contact work (wrap-up), pure. When an agent resolves a conversation they keep its slot on
 * that channel for up to `maxMs` (notes, follow-up) before it takes new work; the agent may end it
 * early. Modelled as load, not as a presence: an agent with three chat slots who wraps one up still
 * takes a chat in the two others, and a one-slot phone agent gets no call until wrap-up ends. The
 * store keeps the entries (a timer row per entry: `until` is swept like any deadline).
 */

export interface WrapUp {
  conversationId: string;
  channel: string;
  since: Date;
  until: Date;
}

export interface WrapUpPolicy {
  /** maximum after-contact work per channel (ms); a missing channel or 0: none */
  maxMsByChannel: Record<string, number>;
}

/** Starts wrap-up for a resolved conversation (replacing one of the same conversation); none if the channel has no wrap-up. */
export function startWrapUp(list: WrapUp[], conversationId: string, channel: string, at: Date, p: WrapUpPolicy): WrapUp[] {
  const ms = p.maxMsByChannel[channel] ?? 0;
  const rest = list.filter((w) => w.conversationId !== conversationId);
  if (ms <= 0) return rest;
  return [...rest, { conversationId, channel, since: at, until: new Date(at.getTime() + ms) }];
}

/** The agent ends wrap-up early: one conversation's, or all of it. Returns the list and whether anything ended. */
export function endWrapUp(list: WrapUp[], conversationId?: string): { list: WrapUp[]; ended: WrapUp[] } {
  const ended = list.filter((w) => conversationId === undefined || w.conversationId === conversationId);
  return { list: list.filter((w) => !ended.includes(w)), ended };
}

/**
 * The agent ends after-contact work early (the console's `end-wrap-up`): one conversation's, or all
 * that is still running at `at`. Refused when nothing is running (an entry already past its `until`
 * is not ended early: the sweep ends it at the maximum). The slots are free at once.
 */
export function endWrapUpEarly(list: WrapUp[], at: Date, conversationId?: string): { ok: true; list: WrapUp[]; ended: WrapUp[] } | { ok: false; message: string } {
  const running = list.filter((w) => w.until.getTime() > at.getTime() && (conversationId === undefined || w.conversationId === conversationId));
  if (!running.length) return { ok: false, message: conversationId === undefined ? 'no wrap-up in progress' : `no wrap-up in progress for conversation ${conversationId}` };
  return { ok: true, list: list.filter((w) => !running.includes(w)), ended: running };
}

/** The entries over at `at` (until ≤ at) leave; the rest stay. */
export function expireWrapUp(list: WrapUp[], at: Date): { list: WrapUp[]; ended: WrapUp[] } {
  const ended = list.filter((w) => w.until.getTime() <= at.getTime());
  return { list: list.filter((w) => !ended.includes(w)), ended };
}

/** Slots held by wrap-up at `at`, per channel. */
export function wrapUpLoad(list: WrapUp[], at: Date): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of list) if (w.until.getTime() > at.getTime()) out[w.channel] = (out[w.channel] ?? 0) + 1;
  return out;
}

/** The agent as the matcher must see it: wrap-up counts as load on its channel. */
export function withWrapUp<A extends Pick<AgentSnapshot, 'load'>>(a: A, list: WrapUp[], at: Date): A {
  const extra = wrapUpLoad(list, at);
  if (!Object.keys(extra).length) return a;
  const load = { ...a.load };
  for (const [ch, n] of Object.entries(extra)) load[ch] = (load[ch] ?? 0) + n;
  return { ...a, load };
}

/** When the next entry ends (the timer to sweep), or null. */
export const nextWrapUpEnd = (list: WrapUp[]): Date | null => (list.length ? new Date(Math.min(...list.map((w) => w.until.getTime()))) : null);

// ---- presence reasons ----

/** Reasons an agent may give for being away, configured by admins (break, training, meeting…). */
export const PresenceReasons = Type.Array(
  Type.Object(
    {
      id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$' }),
      // no NUL or lone surrogate (PostgreSQL cannot store them as sent); the label is shown on consoles as is
      label: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\u0000\\uD800-\\uDFFF]*$' }),
      /** counted as paid working time in occupancy (training, meeting) or not (break, lunch) */
      productive: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
  { $id: 'PresenceReasons', maxItems: 50 },
);
export type PresenceReasons = Static<typeof PresenceReasons>;

/** the list a new router starts with (migration 0011 seeds the same; the console's picker offers these ids) */
export const DEFAULT_PRESENCE_REASONS: PresenceReasons = [
  { id: 'break', label: 'Break', productive: false },
  { id: 'lunch', label: 'Lunch', productive: false },
  { id: 'training', label: 'Training', productive: true },
  { id: 'meeting', label: 'Meeting', productive: true },
  { id: 'admin', label: 'Admin work', productive: true },
];

/** Problems a schema cannot see: repeated ids. */
export function presenceReasonsProblems(reasons: PresenceReasons, field = 'body.reasons'): { field: string; reason: string }[] {
  const seen = new Set<string>();
  const out: { field: string; reason: string }[] = [];
  reasons.forEach((r, i) => {
    if (seen.has(r.id)) out.push({ field: `${field}.${i}.id`, reason: `duplicate reason id ${r.id}` });
    seen.add(r.id);
  });
  return out;
}

/** An away reason must be one of the configured ones; online/offline take none. */
export function presenceReasonProblem(presence: 'online' | 'away' | 'offline', reason: string | undefined, reasons: PresenceReasons): string | null {
  if (presence !== 'away') return reason ? `${presence} takes no reason` : null;
  if (!reason) return null; // away without a reason stays allowed (consoles that predate reasons; the offer-timeout sweep)
  return reasons.some((r) => r.id === reason) ? null : `unknown away reason ${reason}`;
}

/** An agent's presence with the away reason it gave (null: none). */
export interface ReasonedPresence {
  presence: 'online' | 'away' | 'offline';
  awayReason: string | null;
}

/**
 * A presence change with its reason (the console's `presence` command): the reason must be one of
 * the admins' list and only goes with away; online and offline clear it. `changed` says whether the
 * presence or the reason moved (then an agent.presence event is published).
 */
export function setReasonedPresence(
  before: ReasonedPresence,
  presence: ReasonedPresence['presence'],
  reason: string | undefined,
  reasons: PresenceReasons,
): { ok: true; state: ReasonedPresence; changed: boolean } | { ok: false; message: string } {
  const problem = presenceReasonProblem(presence, reason, reasons);
  if (problem) return { ok: false, message: problem };
  const state: ReasonedPresence = { presence, awayReason: presence === 'away' ? (reason ?? null) : null };
  return { ok: true, state, changed: state.presence !== before.presence || state.awayReason !== before.awayReason };
}

// ---- occupancy ----

/** Time an agent spent per state over a period (ms): the inputs of occupancy and utilisation. */
export interface AgentTime {
  /** online with at least one conversation or wrap-up */
  handlingMs: number;
  /** online with nothing */
  idleMs: number;
  /** away with a productive reason */
  productiveAwayMs: number;
  /** away otherwise */
  awayMs: number;
}

/**
 * Occupancy = handling / (handling + idle): how busy the agent was while available. Utilisation =
 * (handling + productive away) / all logged-in time. Null when there is nothing to divide by.
 */
export function occupancy(t: AgentTime): { occupancy: number | null; utilisation: number | null } {
  const available = t.handlingMs + t.idleMs;
  const logged = available + t.productiveAwayMs + t.awayMs;
  return {
    occupancy: available > 0 ? t.handlingMs / available : null,
    utilisation: logged > 0 ? (t.handlingMs + t.productiveAwayMs) / logged : null,
  };
}
