/**
 * Live wait estimates to a chat visitor, end to end (docs/queue-intelligence.md): visitors on the
 * real ingest-chat websocket, the real router and broker. With one agent busy, a visitor queued
 * second sees a `wait` frame with position 2 and an estimate; when the agent frees up and the one
 * ahead is offered, the visitor sees position 1 with a smaller estimate — pushed, without asking.
 */
import { createWorld, eventually, type TestWorld } from './support/infra';
import { startStack, ADAPTER_KEY, type Stack } from './support/stack';
import { bearer, testToken } from './support/tokens';
import { WsClient, type Frame } from '../services/ingest-chat/test/ws-client';
import { AgentClient } from '../services/router/test/support/agent-client';

let world: TestWorld;
let stack: Stack;
const clients: { close: () => Promise<unknown> }[] = [];

beforeAll(async () => {
  world = await createWorld('waitvisitor');
  stack = await startStack(world, {
    kinds: ['chat'],
    env: { WAIT_UPDATE_INTERVAL_MS: '100', WAIT_UPDATE_MIN_INTERVAL_MS: '200', OFFER_TIMEOUT_MS: '60000', DISCONNECT_GRACE_MS: '60000', QUEUE_SLA_MS_TIER_1: '600000', SWEEP_INTERVAL_MS: '200' },
  });
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await stack?.close();
  await world?.close();
});

async function visitor(text: string): Promise<WsClient> {
  const res = await fetch(`${stack.ingest.chat.url}/v1/chat/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': ADAPTER_KEY }, body: JSON.stringify({ language: 'en' }) });
  expect(res.status).toBe(201);
  const { token } = (await res.json()) as { token: string };
  const c = await WsClient.connect(`${stack.ingest.chat.url.replace(/^http/, 'ws')}/v1/chat/ws?token=${encodeURIComponent(token)}`);
  clients.push(c);
  await c.waitFor((f) => f.type === 'ready');
  c.send({ type: 'message', clientMessageId: 'm1', text });
  await c.waitFor((f) => f.type === 'ack');
  return c;
}

const waits = (c: WsClient): Frame[] => c.frames.filter((f) => f.type === 'wait');

it('a visitor sees position and estimate updates on the chat websocket as agents free up', async () => {
  const put = await fetch(`${stack.router.url}/v1/admin/agents/wv-ana`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...bearer('admin') },
    body: JSON.stringify({ name: 'Ana', tiers: [1], skills: [], languages: ['en', 'es'], capacity: { chat: 1 } }),
  });
  expect(put.status).toBe(201);
  const ana = await AgentClient.connect(stack.router.url, 'wv-ana', testToken('agent', 'wv-ana'));
  clients.push(ana);

  const a = await visitor('I forgot my password');
  const [first] = await a.waitFor((f) => f.type === 'wait');
  expect(first).toMatchObject({ position: 1, estimateMs: 0, estimator: 'queue-length-median' });
  const offerA = await ana.offer(first!.conversationId as string);
  expect(await ana.command({ type: 'accept', conversationId: offerA.conversationId })).toMatchObject({ type: 'ack' });

  const b = await visitor('I cannot log in to my account');
  const [bWait] = await b.waitFor((f) => f.type === 'wait');
  expect(bWait).toMatchObject({ position: 1 });
  const c = await visitor('my password does not work');
  const [second] = await c.waitFor((f) => f.type === 'wait');
  expect(second).toMatchObject({ position: 2, estimator: 'queue-length-median' });
  expect(second!.estimateMs as number).toBeGreaterThan(bWait!.estimateMs as number);

  // the agent frees up: b is offered, c moves to the head and is told so, with a smaller estimate
  expect(await ana.command({ type: 'resolve', conversationId: offerA.conversationId })).toMatchObject({ type: 'ack' });
  await ana.offer(bWait!.conversationId as string);
  // (the resolve itself may first move the estimate at position 2: the tier's handle time was measured)
  const [head] = await c.waitFor((f) => f.type === 'wait' && f.position === 1);
  expect(head).toMatchObject({ conversationId: second!.conversationId, position: 1, estimator: 'queue-length-median' });
  expect(head!.estimateMs as number).toBeLessThan(second!.estimateMs as number);
  // never a flood: a frame per material change, positions only going down
  const seen = waits(c);
  expect(seen.length).toBeLessThanOrEqual(4);
  expect(seen.map((f) => f.position)).toEqual([...seen.map((f) => f.position as number)].sort((x, y) => y - x));
});

it("history's KPIs take the router's producers end to end: the estimate given at queueing against the actual wait, and the agent's occupancy from omni.agents.v1", async () => {
  type Kpis = {
    waitEstimateError: { tier: number; count: number; medianAbsErrorMs: number | null; estimators: { estimator: string; count: number }[] }[];
    occupancy: { agents: { agentId: string; tiers: number[]; occupancy: number | null }[] };
  };
  const to = new Date(Date.now() + 60_000).toISOString();
  // the test above: a and b were queued with an estimate and accepted or offered by wv-ana, who was online with a console
  const k = await eventually(async () => {
    const r = await fetch(`${stack.history.url}/v1/kpis?to=${encodeURIComponent(to)}`, { headers: bearer('supervisor') });
    if (r.status !== 200) return undefined;
    const body = (await r.json()) as Kpis;
    const t1 = body.waitEstimateError.find((t) => t.tier === 1);
    return t1 && t1.count >= 1 && body.occupancy.agents.some((a) => a.agentId === 'wv-ana') ? body : undefined;
  }, 'estimate error and occupancy in history');
  const t1 = k.waitEstimateError.find((t) => t.tier === 1)!;
  expect(t1.medianAbsErrorMs).not.toBeNull();
  expect(t1.medianAbsErrorMs!).toBeGreaterThanOrEqual(0);
  expect(t1.estimators.map((e) => e.estimator)).toContain('queue-length-median');
  const ana = k.occupancy.agents.find((a) => a.agentId === 'wv-ana')!;
  expect(ana.tiers).toEqual([1]);
  // she handled conversations while online: some of her available time was spent handling
  expect(ana.occupancy).toBeGreaterThan(0);
  expect(ana.occupancy!).toBeLessThanOrEqual(1);
}, 120_000);
