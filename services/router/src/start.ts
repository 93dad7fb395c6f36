import { join } from 'node:path';
import { InboundMessage } from '@omni/contracts';
import { OutboxRelay, startConsumer } from '@omni/kafka';
import type { Logger } from '@omni/logging';
import { connectInfra } from '@omni/service';
import type { RouterConfig } from './config';
import { buildApp } from './app';
import { handleInbound } from './consumers/inbound';

/** Connects, migrates, starts the outbox relay, the consumers and the HTTP server (main.ts and tests). */
export async function start(config: RouterConfig, logger: Logger) {
  const infra = await connectInfra({ service: 'router', schema: 'router', migrationsDir: join(__dirname, '..', 'migrations'), config, logger });
  const relay = new OutboxRelay(infra.pool, 'router', infra.publisher, logger);
  relay.start();
  const app = await buildApp({ infra, logger });
  const inbound = await startConsumer<InboundMessage>({
    kafka: infra.kafka,
    groupId: config.ROUTER_GROUP_ID,
    topics: { [infra.topics.inbound]: InboundMessage },
    logger,
    publisher: infra.publisher,
    dlqTopic: infra.topics.dlq,
    handle: (msg) => handleInbound({ pool: infra.pool, topics: infra.topics, relay }, msg),
  });
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(`router listening on ${url}`);
  return {
    app,
    url,
    close: async () => {
      await inbound.disconnect();
      await app.close();
      await relay.stop();
      await infra.close();
    },
  };
}
