import type { Pool } from 'pg';
import type { AgentEvent } from '@omni/contracts';
import { withTransaction } from '@omni/db';
import type { Received } from '@omni/kafka';
import { insertAgentEvents } from '../store/occupancy-facts';

/**
 * Stores a batch of omni.agents.v1 events (presence with reason, wrap-up, profile changes) for the
 * occupancy and utilisation KPIs, in one transaction; event_id is the primary key, so a redelivered
 * batch changes nothing. The records were validated against the contract by startConsumer (invalid
 * ones went to the dead-letter topic); offsets are committed only after this resolves.
 */
export async function handleAgentEventsBatch(deps: { pool: Pool }, batch: Received<AgentEvent>[]): Promise<number> {
  if (batch.length === 0) return 0;
  return withTransaction(deps.pool, (client) => insertAgentEvents(client, batch.map((m) => m.value)));
}
