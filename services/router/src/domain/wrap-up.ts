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
      label: Type.String({ minLength: 1, maxLength: 64 }),
      /** counted as paid working time in occupancy (training, meeting) or not (break, lunch) */
      productive: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
  { $id: 'PresenceReasons', maxItems: 50 },
);
export type PresenceReasons = Static<typeof PresenceReasons>;

export const DEFAULT_PRESENCE_REASONS: PresenceReasons = [
  { id: 'break', label: 'Break', productive: false },
  { id: 'lunch', label: 'Lunch', productive: false },
  { id: 'training', label: 'Training', productive: true },
  { id: 'meeting', label: 'Meeting', productive: true },
];

/** An away reason must be one of the configured ones; online/offline take none. */
export function presenceReasonProblem(presence: 'online' | 'away' | 'offline', reason: string | undefined, reasons: PresenceReasons): string | null {
  if (presence !== 'away') return reason ? `${presence} takes no reason` : null;
  if (!reason) return null; // away without a reason stays allowed (consoles that predate reasons; the offer-timeout sweep)
  return reasons.some((r) => r.id === reason) ? null : `unknown away reason ${reason}`;
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
