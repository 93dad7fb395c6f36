import { ConversationEvent, OutboundMessage } from '@omni/contracts';
import { createKafka, startConsumer, type Received } from '@omni/kafka';
import type { TSchema } from '@sinclair/typebox';
import type { IngestAppDeps } from '@omni/ingest';
import type { ChatConfig } from './config';
import { DEV_CHAT_SESSION_SECRET } from './config';
import { buildApp } from './app';
import { handleOutboundReply } from './consumers/outbound-replies';
import { handleConversationWait } from './consumers/conversation-waits';
import { SessionHub } from './session-hub';

/**
 * Builds ingest-chat from its config and connected infrastructure (called by main.ts and tests):
 * the HTTP app with sessions and the visitor websocket, the reply listener and the omni.outbound.v1
 * consumer for websocket sessions (delivered statuses go through the service's outbox relay).
 */
export async function start(config: ChatConfig, deps: IngestAppDeps) {
  const { logger } = deps;
  if (config.CHAT_SESSION_SECRET === DEV_CHAT_SESSION_SECRET) logger.warn('CHAT_SESSION_SECRET not set: using the development default; set it in production');
  const hub = new SessionHub(config.DATABASE_URL, logger);
  await hub.start();
  const built = await buildApp(deps, {
    sessionSecret: config.CHAT_SESSION_SECRET,
    sessionTtlSeconds: config.CHAT_SESSION_TTL_S,
    maxFrameBytes: config.CHAT_WS_MAX_FRAME_BYTES,
    pingIntervalMs: config.CHAT_WS_PING_MS,
    hub,
    kickRelay: deps.kickRelay,
  });
  // A client of its own: the shared infra exposes only the publisher to ingest apps.
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'ingest-chat-ws', logger, fetchMaxWaitMs: config.KAFKA_FETCH_MAX_WAIT_MS });
  // the settings both of its consumers share: this client, the service's publisher and dead-letter topic
  const consume = <T>(groupId: string, topic: string, schema: TSchema, handle: (msg: Received<T>) => Promise<void>) =>
    startConsumer<T>({ kafka, groupId, topics: { [topic]: schema }, logger, publisher: deps.infra.publisher, dlqTopic: deps.infra.topics.dlq, handle });
  const consumer = await consume<OutboundMessage>(config.CHAT_WS_GROUP_ID, deps.infra.topics.outbound, OutboundMessage, async (msg) => void (await handleOutboundReply({ pool: deps.infra.pool }, msg)));
  // wait estimates for the visitors' sockets (docs/queue-intelligence.md): its own group, so the
  // replies' consumer is never held back by the busier routing topic
  const waits = await consume<ConversationEvent>(config.CHAT_WAIT_GROUP_ID, deps.infra.topics.conversations, ConversationEvent, async (msg) => void (await handleConversationWait({ pool: deps.infra.pool }, msg)));
  return {
    app: built.app,
    consumerGroups: [config.CHAT_WS_GROUP_ID, config.CHAT_WAIT_GROUP_ID],
    close: async () => {
      await waits.disconnect();
      await consumer.disconnect();
      await hub.stop();
    },
  };
}
