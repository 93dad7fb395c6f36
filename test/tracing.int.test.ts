/**
 * Tracing end to end: ingest-chat, router and history run as real processes (their own main.ts, so
 * the OTEL_* start-up path is the production one) exporting over OTLP/HTTP to a receiver in this
 * test. One chat message, an agent that accepts and replies, and the span trees asserted:
 *
 *   the customer message: HTTP POST → send omni.inbound → router process (the routing decision) →
 *   offer frame to the agent, outbox → send omni.conversations → history process (the write), and
 *   history's own process of the inbound message;
 *   the agent's reply: ws receive reply → outbox → send omni.outbound → ingest-chat process (delivery)
 *   and history process.
 */
import { randomBytes } from 'node:crypto';
import { AgentClient } from '../services/router/test/support/agent-client';
import { AdapterStub } from './support/adapter-stub';
import { createWorld, eventually, type TestWorld } from './support/infra';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';
import { startServiceProcess, type ServiceProcess } from './support/service-process';
import { bearer, testToken } from './support/tokens';

const SECRET = 'trace-callback-secret-1';

const CONSUMER = 5;
const PRODUCER = 4;
const SERVER = 2;

describe('OpenTelemetry traces across the services', () => {
  let world: TestWorld;
  let receiver: OtlpReceiver;
  let stub: AdapterStub;
  const procs: ServiceProcess[] = [];
  let chat: ServiceProcess;
  let router: ServiceProcess;
  let agent: AgentClient | undefined;

  beforeAll(async () => {
    world = await createWorld('tracing');
    receiver = new OtlpReceiver();
    await receiver.listen();
    stub = new AdapterStub({ '/web': SECRET });
    await stub.listen();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '200', LOG_LEVEL: 'info' };
    // started one after the other: three tsx compilations at once crowd two cores
    chat = await startServiceProcess(
      'ingest-chat',
      world.env({
        ...otel,
        ADAPTER_API_KEYS: 'web:k-web',
        DELIVERY_TARGETS: `adapter:web=${stub.url('/web')}|${SECRET}`,
        CHAT_WS_GROUP_ID: world.groupId('chat-ws'),
        CHAT_WAIT_GROUP_ID: world.groupId('chat-waits'),
        DELIVERY_GROUP_ID: world.groupId('chat-delivery'),
      }),
    );
    procs.push(chat);
    router = await startServiceProcess('router', world.env({ ...otel, ROUTER_GROUP_ID: world.groupId('router') }));
    procs.push(router);
    procs.push(await startServiceProcess('history', world.env({ ...otel, HISTORY_GROUP_ID: world.groupId('history') })));
  });

  afterAll(async () => {
    await agent?.close().catch(() => undefined);
    for (const p of procs.reverse()) await p.stop();
    await stub?.close();
    await receiver?.close();
    await world?.close();
  });

  /** Waits until the trace has spans matching every predicate; returns them in order. */
  async function spansOf(traceId: string, wanted: Record<string, (s: ReceivedSpan) => boolean>): Promise<Record<string, ReceivedSpan>> {
    try {
      return await eventually(async () => {
        const spans = receiver.trace(traceId);
        const found: Record<string, ReceivedSpan> = {};
        for (const [k, pred] of Object.entries(wanted)) {
          const s = spans.find(pred);
          if (!s) return undefined;
          found[k] = s;
        }
        return found;
      }, 'the spans of the trace', 60000);
    } catch (err) {
      const missing = Object.entries(wanted)
        .filter(([, pred]) => !receiver.trace(traceId).some(pred))
        .map(([k]) => k);
      throw new Error(`${(err as Error).message}; missing ${missing.join(', ')}; trace so far:\n${receiver.render(traceId)}`);
    }
  }

  it('follows one chat message from the HTTP request through Kafka, the routing decision, the agent and the history write', async () => {
    // an agent online, so the router offers the conversation as it routes the message
    const put = await fetch(`${router.url}/v1/admin/agents/agent-trace`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...bearer('admin') },
      body: JSON.stringify({ name: 'Ana', tiers: [1], skills: [], languages: ['es', 'en'], capacity: { chat: 3, email: 1, phone: 1 } }),
    });
    expect([200, 201]).toContain(put.status);
    agent = await AgentClient.connect(router.url, 'agent-trace', testToken('agent', 'agent-trace'), { presence: 'online' });

    // the caller's own trace context: the ingest span must continue it
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const res = await fetch(`${chat.url}/v1/chat/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k-web', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ adapterMessageId: 'trace-1', channel: 'chat', threadKey: 'sess-trace', from: { address: 'visitor-trace', name: 'Lucía' }, text: 'Olvidé mi contraseña y no puedo entrar' }),
    });
    expect(res.status).toBe(202);

    const offer = await agent.offer();
    const conversationId = offer.conversationId!;
    expect((await agent.command({ type: 'accept', conversationId })).type).toBe('ack');
    expect((await agent.command({ type: 'reply', conversationId, text: 'Le envío un enlace para restablecerla' })).type).toBe('ack');
    // the reply reached the channel adapter
    await stub.waitFor((r) => r.body.conversationId === conversationId);

    const inboundTopic = world.topics.inbound;
    const convTopic = world.topics.conversations;
    const outboundTopic = world.topics.outbound;
    const group = (s: ReceivedSpan) => String(s.attributes['messaging.consumer.group.name'] ?? '');

    // 1. the customer's message
    const t = await spansOf(traceId, {
      http: (s) => s.service === 'ingest-chat' && s.kind === SERVER && s.name === 'POST /v1/chat/messages',
      send: (s) => s.service === 'ingest-chat' && s.kind === PRODUCER && s.name === `send ${inboundTopic}`,
      route: (s) => s.service === 'router' && s.kind === CONSUMER && s.name === `process ${inboundTopic}`,
      offer: (s) => s.service === 'router' && s.name === 'ws send offer',
      outbox: (s) => s.service === 'router' && s.name === `outbox ${convTopic}`,
      sendConv: (s) => s.service === 'router' && s.kind === PRODUCER && s.name === `send ${convTopic}`,
      historyConv: (s) => s.service === 'history' && s.kind === CONSUMER && s.name === `process ${convTopic}`,
      historyInbound: (s) => s.service === 'history' && s.kind === CONSUMER && s.name === `process ${inboundTopic}`,
    });
    const tree = receiver.render(traceId);
    expect(t.http!.parentSpanId).toBe(callerSpan);
    expect(t.send!.parentSpanId).toBe(t.http!.spanId);
    expect(t.route!.parentSpanId).toBe(t.send!.spanId);
    expect(group(t.route!)).toMatch(/^router-/);
    expect(t.historyInbound!.parentSpanId).toBe(t.send!.spanId);
    expect(group(t.historyInbound!)).toMatch(/^history-/);
    // the decision's effects hang under the routing span: the offer frame and the events it wrote
    const ancestors = (s: ReceivedSpan): string[] => {
      const byId = new Map(receiver.trace(traceId).map((x) => [x.spanId, x]));
      const out: string[] = [];
      for (let p = s.parentSpanId; p && byId.has(p); p = byId.get(p)!.parentSpanId) out.push(p);
      return out;
    };
    expect(ancestors(t.offer!)).toContain(t.route!.spanId);
    expect(t.outbox!.parentSpanId).toBe(t.route!.spanId);
    expect(t.sendConv!.parentSpanId).toBe(t.outbox!.spanId);
    expect(t.historyConv!.parentSpanId).toBe(t.sendConv!.spanId);
    // every hop has a duration and starts after the one that caused it
    for (const s of receiver.trace(traceId)) expect(s.endMs).toBeGreaterThanOrEqual(s.startMs);
    expect(t.route!.startMs).toBeGreaterThanOrEqual(t.send!.startMs);
    expect(t.historyConv!.startMs).toBeGreaterThanOrEqual(t.sendConv!.startMs);
    expect(receiver.trace(traceId).filter((s) => s.status === 2)).toEqual([]);

    // 2. the agent's reply: a trace of its own, from the frame the router received
    const reply = await eventually(async () => receiver.spans.find((s) => s.service === 'router' && s.name === 'ws receive reply'), 'the reply frame span');
    const r = await spansOf(reply.traceId, {
      outbox: (s) => s.service === 'router' && s.name === `outbox ${outboundTopic}`,
      send: (s) => s.service === 'router' && s.kind === PRODUCER && s.name === `send ${outboundTopic}`,
      deliver: (s) => s.service === 'ingest-chat' && s.kind === CONSUMER && s.name === `process ${outboundTopic}`,
      history: (s) => s.service === 'history' && s.kind === CONSUMER && s.name === `process ${outboundTopic}`,
    });
    expect(r.outbox!.parentSpanId).toBe(reply.spanId);
    expect(r.send!.parentSpanId).toBe(r.outbox!.spanId);
    expect(r.deliver!.parentSpanId).toBe(r.send!.spanId);
    expect(r.history!.parentSpanId).toBe(r.send!.spanId);
    expect(receiver.refused).toEqual([]);
    if (process.env.TRACE_PRINT) console.log(`customer message:\n${tree}\n\nagent reply:\n${receiver.render(reply.traceId)}`);
  });
});
