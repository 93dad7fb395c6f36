/**
 * Wait estimates told to customers, on the real stack (docs/queue-intelligence.md): the estimate
 * given at first queueing is on conversation.queued (data.estimate) and stored; an SMS customer
 * whose estimate exceeds WAIT_NOTICE_THRESHOLD_MS gets exactly one automatic wait message (in their
 * language, through omni.outbound.v1, sender system:wait-estimate) however many update passes run;
 * position changes are announced as conversation.wait-updated when agents free up.
 */
import { TopicWatcher } from '../../../test/support/infra';
import { RouterHarness } from './support/router-harness';

const h = new RouterHarness();
let outbound: TopicWatcher;

beforeAll(async () => {
  await h.start('routerwaits', {
    OFFER_TIMEOUT_MS: '60000',
    DISCONNECT_GRACE_MS: '60000',
    QUEUE_SLA_MS_TIER_1: '600000',
    WAIT_UPDATE_INTERVAL_MS: '100',
    WAIT_UPDATE_MIN_INTERVAL_MS: '200',
    WAIT_NOTICE_THRESHOLD_MS: '60000',
  });
  outbound = await TopicWatcher.start(h.world, h.world.topics.outbound);
});

afterAll(async () => {
  await outbound?.stop();
  await h.stop();
});

it('an SMS customer gets exactly one wait message past the threshold; positions are announced as agents free up', async () => {
  await h.createAgent('wt-ana', { capacity: { sms: 1 } });
  const ana = await h.connect('wt-ana');
  const sms = (text: string, thread: string, language: string) => h.send(text, { channel: 'sms', thread, language });

  // the first is offered at once: its first estimate is no wait
  const c1 = await h.openedBy((await sms('I forgot my password', 'wt-1', 'en')).messageId);
  const [q1] = await h.event(c1, 'queued');
  expect((q1!.data as any).estimate).toEqual({ position: 1, estimateMs: 0, estimator: 'queue-length-median' });
  await ana.offer(c1);
  expect(await ana.command({ type: 'accept', conversationId: c1 })).toMatchObject({ type: 'ack' });

  // the second waits for the one slot: 0.70 × the 5-minute prior handle time, over the 60 s threshold
  const c2 = await h.openedBy((await sms('no puedo entrar en mi cuenta', 'wt-2', 'es')).messageId);
  const [q2] = await h.event(c2, 'queued');
  const first = (q2!.data as any).estimate;
  expect(first).toMatchObject({ position: 1, estimator: 'queue-length-median' });
  expect(first.estimateMs).toBeGreaterThan(60_000);
  const stored = await h.world.pool.query(`SELECT first_position, first_estimate_ms FROM router.wait_notices WHERE conversation_id = $1`, [c2]);
  expect(stored.rows).toEqual([{ first_position: 1, first_estimate_ms: String(first.estimateMs) }]);
  const [notice] = await outbound.waitFor((v) => v.conversationId === c2);
  expect(notice!.value).toMatchObject({ agentId: 'system:wait-estimate', channel: 'sms', threadKey: 'sms:wt-2' });
  expect(notice!.value.text).toContain('tiempo de espera estimado');

  // a third behind it: position 2; its own notice shows that later update passes ran
  const c3 = await h.openedBy((await sms('I cannot log in', 'wt-3', 'en')).messageId);
  const [q3] = await h.event(c3, 'queued');
  expect((q3!.data as any).estimate.position).toBe(2);
  await outbound.waitFor((v) => v.conversationId === c3);
  // several more update passes (the router's own counter on /metrics), and still one message each
  const before = await passes();
  await waitUntil(async () => (await passes()) >= before + 5, 10_000);
  expect(outbound.seen.filter((s) => s.value.conversationId === c2)).toHaveLength(1);
  expect(outbound.seen.filter((s) => s.value.conversationId === c3)).toHaveLength(1);

  // the agent frees up: c2 is offered, c3 reaches the head and that is announced
  expect(await ana.command({ type: 'resolve', conversationId: c1 })).toMatchObject({ type: 'ack' });
  await ana.offer(c2);
  const [moved] = await h.conversations.waitFor((v) => v.conversationId === c3 && v.type === 'conversation.wait-updated' && (v.data as any).wait.position === 1);
  expect((moved!.value.data as any).wait).toMatchObject({ position: 1, estimator: 'queue-length-median' });
  // never a flood: no more wait messages for anyone
  expect(outbound.seen.filter((s) => s.value.agentId === 'system:wait-estimate')).toHaveLength(2);
  await ana.close();
});

/** Wait-update passes this router has run (router_wait_update_passes_total on /metrics). */
async function passes(): Promise<number> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  return Number(/^router_wait_update_passes_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
}

async function waitUntil(f: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out; metrics: ${(await (await fetch(`${h.url}/metrics`)).text()).split('\n').filter((l) => l.includes('router_wait') || l.includes('sweep')).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
