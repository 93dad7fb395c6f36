import type { FastifyInstance } from 'fastify';
import { derivedId, type InboundMessage } from '@omni/contracts';
import { Publisher, createKafka } from '@omni/kafka';
import { readConfig } from '@omni/router/src/config';
import { start } from '@omni/router/src/start';
import { mintToken } from '@omni/router/src/auth/tokens';
import { createWorld, testLogger, TopicWatcher, type TestWorld } from '../../../../test/support/infra';
import { InboundMessage as InboundSchema } from '@omni/contracts';
import { AgentClient, type Frame } from './agent-client';

export const JWT_SECRET = 'test-secret-router-0123456789abcdef';

export interface AgentSpec {
  name?: string;
  tiers?: number[];
  skills?: string[];
  languages?: string[];
  capacity?: Record<string, number>;
}

/**
 * One test file's router over the real broker and database: a fresh world, a router started with
 * the given env, a publisher for inbound envelopes and a watcher on omni.conversations.v1.
 */
export class RouterHarness {
  world!: TestWorld;
  url!: string;
  conversations!: TopicWatcher;
  publisher!: Publisher;
  private closers: (() => Promise<void>)[] = [];
  /** the running replicas' fastify apps (their route tables, for the access-control test) */
  readonly apps: FastifyInstance[] = [];
  private clients: AgentClient[] = [];
  private n = 0;
  readonly adminToken = mintToken(JWT_SECRET, { sub: 'test-admin', role: 'admin' });

  async start(name: string, env: Record<string, string> = {}): Promise<void> {
    this.world = await createWorld(name);
    this.conversations = await TopicWatcher.start(this.world, this.world.topics.conversations);
    this.url = await this.startRouter(env);
    this.publisher = new Publisher(createKafka({ brokers: this.world.brokers, clientId: `feeder-${this.world.id}`, logger: testLogger }));
    await this.publisher.connect();
  }

  /** The env a router of this world runs with (the same for every replica). */
  routerEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
    return this.world.env({ ROUTER_GROUP_ID: `router-${this.world.id}`, JWT_SECRET, SWEEP_INTERVAL_MS: '200', ...env });
  }

  /** Starts (another) router replica in-process on the same world (same group id); returns its URL. */
  async startRouter(env: Record<string, string> = {}): Promise<string> {
    const r = await start(readConfig(this.routerEnv(env)), testLogger);
    this.closers.push(r.close);
    this.apps.push(r.app);
    return r.url;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) await c.close().catch(() => undefined);
    for (const close of this.closers.reverse()) await close().catch(() => undefined);
    await this.publisher?.disconnect().catch(() => undefined);
    await this.conversations?.stop();
    await this.world?.close();
  }

  agentToken(agentId: string): string {
    return mintToken(JWT_SECRET, { sub: agentId, role: 'agent' });
  }

  async admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: res.status === 204 ? undefined : await res.json() };
  }

  async createAgent(id: string, spec: AgentSpec = {}): Promise<void> {
    const res = await this.admin('PUT', `/v1/admin/agents/${id}`, {
      name: spec.name ?? id,
      tiers: spec.tiers ?? [1],
      skills: spec.skills ?? [],
      languages: spec.languages ?? ['es', 'en'],
      capacity: spec.capacity ?? { chat: 3, email: 5, phone: 1 },
    });
    if (res.status !== 201 && res.status !== 200) throw new Error(`create agent ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  async connect(agentId: string, opts: { lastSeq?: number; presence?: 'online' | 'away'; url?: string; onFrame?: (c: AgentClient, f: Frame) => void } = {}): Promise<AgentClient> {
    const c = await AgentClient.connect(opts.url ?? this.url, agentId, this.agentToken(agentId), opts);
    this.clients.push(c);
    return c;
  }

  /** Builds a customer message envelope (a new message id each call) without publishing it. */
  envelope(text: string, opts: { thread?: string; channel?: InboundMessage['channel']; from?: string; name?: string; language?: string } = {}): InboundMessage {
    const channel = opts.channel ?? 'chat';
    const n = ++this.n;
    const thread = opts.thread ?? `t${n}`;
    const providerMessageId = `${this.world.id}-${n}`;
    const now = new Date().toISOString();
    return {
      schema: 'omni.inbound.v1',
      messageId: derivedId('msg', providerMessageId),
      channel,
      provider: 'test',
      providerMessageId,
      threadKey: `${channel}:${thread}`,
      from: { channel, address: opts.from ?? `cust-${thread}`, ...(opts.name ? { name: opts.name } : {}) },
      sentAt: now,
      receivedAt: now,
      text,
      ...(opts.language ? { language: opts.language } : {}),
    };
  }

  /** Publishes envelopes to omni.inbound.v1 in one produce request, in order. */
  async publishInbound(values: InboundMessage[]): Promise<void> {
    await this.publisher.publish(values.map((value) => ({ topic: this.world.topics.inbound, key: value.threadKey, value, schema: InboundSchema })));
  }

  /** Publishes a customer message to omni.inbound.v1; returns its message id and thread key. */
  async send(text: string, opts: { thread?: string; channel?: InboundMessage['channel']; from?: string; name?: string; language?: string } = {}): Promise<{ messageId: string; threadKey: string }> {
    const value = this.envelope(text, opts);
    await this.publishInbound([value]);
    return { messageId: value.messageId, threadKey: value.threadKey };
  }

  /** The conversation opened by a message (waits for conversation.opened on the topic). */
  async openedBy(messageId: string): Promise<string> {
    const [opened] = await this.conversations.waitFor((v) => v.type === 'conversation.opened' && v.messageId === messageId);
    return opened!.value.conversationId as string;
  }

  /** Waits for a routing event of a conversation on omni.conversations.v1. */
  async event(conversationId: string, type: string, count = 1): Promise<Record<string, unknown>[]> {
    const seen = await this.conversations.waitFor((v) => v.conversationId === conversationId && v.type === `conversation.${type}`, count);
    return seen.map((s) => s.value);
  }

  eventTypes(conversationId: string): string[] {
    return this.conversations.seen.filter((s) => s.value.conversationId === conversationId).map((s) => String(s.value.type).replace('conversation.', ''));
  }
}
