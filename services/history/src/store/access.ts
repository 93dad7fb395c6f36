import type { Pool, PoolClient } from 'pg';
import type { Principal } from '@omni/auth';
import { subtreeOf } from './customers';

type Db = Pool | PoolClient;

/**
 * Agents see only what they served: a conversation whose projection lists them (offered, assigned,
 * transferred to, replied — now or before, from omni.conversations.v1 and omni.outbound.v1), and the
 * customers of those conversations, merges included (any member of the customer's merge tree).
 * Everyone else who reaches a customer route (supervisor, admin, scoped service) sees everything.
 */
export function isScoped(p: Principal): boolean {
  return p.role === 'agent';
}

/** Whether an agent served any conversation of this customer (or of a customer merged with it). */
export async function agentServedCustomer(db: Db, agentId: string, customerId: string): Promise<boolean> {
  const root = (await db.query<{ root: string | null }>('SELECT history.root_customer(id) AS root FROM history.customers WHERE id = $1::text', [customerId])).rows[0]?.root;
  if (!root) return false;
  const members = await subtreeOf(db, root);
  const r = await db.query('SELECT 1 FROM history.conversations WHERE customer_id = ANY($1::text[]) AND agents @> ARRAY[$2::text] LIMIT 1', [members, agentId]);
  return (r.rowCount ?? 0) > 0;
}

/** Whether an agent served this conversation. */
export async function agentServedConversation(db: Db, agentId: string, conversationId: string): Promise<boolean> {
  const r = await db.query('SELECT 1 FROM history.conversations WHERE id = $1::text AND agents @> ARRAY[$2::text]', [conversationId, agentId]);
  return (r.rowCount ?? 0) > 0;
}
