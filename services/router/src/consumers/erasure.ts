import type { Consumer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { ErasureEvent, erasureEventProblems } from '@omni/contracts';
import { PermanentError, startConsumer, type Publisher, type Received } from '@omni/kafka';
import type { Kafka } from 'kafkajs';
import { eraseFromRouter } from '../store/erasure';
import type { RouterCtx } from '../store/routing-tx';

/**
 * One omni.erasures.v1 record: the router forgets the person (store/erasure.ts). The consumer
 * commits the offset only after this resolves, so a crash halfway redelivers the record and the
 * idempotent steps run again; a record that fails the contract is dead-lettered before any step.
 * The log line carries ids and counts only.
 */
export async function handleErasure(ctx: RouterCtx, msg: Received<ErasureEvent>): Promise<void> {
  const e = msg.value;
  const problems = erasureEventProblems(e);
  if (problems.length > 0) throw new PermanentError(`contract violation: ${problems.join('; ')}`);
  const r = await eraseFromRouter(ctx, e);
  ctx.logger.info({ erasureId: e.erasureId, part: e.part, parts: e.parts, ...r }, 'erased a person from the router');
}

/** Starts the router's erasure consumer (group `<ROUTER_GROUP_ID>-erasures`). */
export function startErasureConsumer(ctx: RouterCtx, deps: { kafka: Kafka; publisher: Publisher; registry: Registry; groupId: string }): Promise<Consumer> {
  return startConsumer<ErasureEvent>({
    kafka: deps.kafka,
    groupId: deps.groupId,
    topics: { [ctx.topics.erasures]: ErasureEvent },
    logger: ctx.logger,
    publisher: deps.publisher,
    dlqTopic: ctx.topics.dlq,
    registry: deps.registry,
    handle: (msg) => handleErasure(ctx, msg),
  });
}
