import { Type } from '@sinclair/typebox';
import { CHANNELS } from '@omni/contracts';

/** Shared response and parameter schemas of the history API (one source for validation and OpenAPI). */
export const ChannelParam = Type.Union(CHANNELS.map((c) => Type.Literal(c)));
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const NullableStr = Type.Union([Type.String(), Type.Null()]);
export const ErrorRef = { $ref: 'ErrorBody#' };

export const IdentityView = Type.Object({
  channel: Type.String(),
  address: Type.String(),
  customerId: Type.String({ description: 'the customer this identity was first attached to (its home)' }),
  linkedReason: Type.String({ description: "'first contact', 'auto: same phone', 'auto: same email'" }),
  linkedVia: NullableStr,
  linkedAt: Type.String(),
});

export const CustomerView = Type.Object(
  {
    id: Type.String(),
    displayName: NullableStr,
    mergedInto: Type.Union([Type.String(), Type.Null()], { description: 'the top-level customer this one is merged into, if any' }),
    members: Type.Array(Type.String(), { description: 'customers merged into this one (directly or through a chain)' }),
    identities: Type.Array(IdentityView),
    version: Type.Integer(),
    updatedAt: Type.String(),
  },
);

export const TimelineItem = Type.Object({
  eventId: Type.String(),
  customerId: Type.String(),
  occurredAt: Type.String(),
  kind: Type.String(),
  channel: Type.String(),
  conversationId: NullableStr,
  tier: NullableInt,
  agentId: NullableStr,
  payload: Type.Record(Type.String(), Type.Unknown()),
});

export const MergeView = Type.Object(
  {
    id: Type.String(),
    sourceId: Type.String(),
    targetId: Type.String(),
    reason: Type.String(),
    evidence: NullableStr,
    actor: Type.String(),
    createdAt: Type.String(),
    undoneAt: NullableStr,
    undoneBy: NullableStr,
    undoReason: NullableStr,
  },
);

/** PostgreSQL text cannot hold NUL: refuse it at the edge (400 naming the field) rather than fail the query. */
export const NO_NUL = '^[^\\u0000]*$';
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL }) });

/** The cursor is the position (occurred_at, seq) of the last item returned, opaque to clients. */
export function encodeCursor(c: { at: string; seq: string }): string {
  return Buffer.from(JSON.stringify([c.at, c.seq])).toString('base64url');
}

export function decodeCursor(cursor: string): { at: string; seq: string } | null {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(v) || v.length !== 2) return null;
    const [at, seq] = v as [unknown, unknown];
    if (typeof at !== 'string' || typeof seq !== 'string' || !/^\d{1,18}$/.test(seq) || Number.isNaN(Date.parse(at))) return null;
    return { at, seq };
  } catch {
    return null;
  }
}

/**
 * A timeline item as staff may see it: without the customer's CSAT token (carried on
 * conversation.resolved), which would let whoever reads the timeline answer for the customer.
 */
export function redactItem<T extends { payload: Record<string, unknown> }>(item: T): T {
  if (!('csatToken' in item.payload)) return item;
  const { csatToken: _hidden, ...payload } = item.payload;
  return { ...item, payload };
}
