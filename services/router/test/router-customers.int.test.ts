/**
 * Inputs from other services and the escalate overflow mode: customer attributes from
 * omni.customers.v1 (VIP) change classification, and with OVERFLOW_MODE=escalate a conversation
 * waiting past its tier's SLA moves one tier up.
 */
import { CustomerRecord } from '@omni/contracts';
import { RouterHarness } from './support/router-harness';

const h = new RouterHarness();
beforeAll(() => h.start('routercustomers', { OVERFLOW_MODE: 'escalate', QUEUE_SLA_MS_TIER_1: '1000' }));
afterAll(() => h.stop());

it('a VIP customer (omni.customers.v1) gets the VIP priority bonus', async () => {
  const record: CustomerRecord = {
    schema: 'omni.customers.v1',
    customerId: 'cust-vip-1',
    version: 3,
    displayName: 'Marta VIP',
    identities: [{ channel: 'chat', address: 'marta-1' }],
    attributes: { vip: true },
    updatedAt: new Date().toISOString(),
  };
  await h.publisher.publish([{ topic: h.world.topics.customers, key: record.customerId, value: record, schema: CustomerRecord }]);
  const { eventually } = await import('../../../test/support/infra');
  await eventually(async () => ((await h.world.pool.query(`SELECT 1 FROM router.customer_profiles WHERE identity = 'chat:marta-1'`)).rowCount ? true : undefined), 'profile stored');
  const plain = await h.openedBy((await h.send('I forgot my password', { from: 'someone-else' })).messageId);
  const vip = await h.openedBy((await h.send('I forgot my password', { from: 'marta-1' })).messageId);
  const [p] = await h.event(plain, 'classified');
  const [v] = await h.event(vip, 'classified');
  expect(v).toMatchObject({ priority: (p!.priority as number) + 30, category: 'access-passwords', customer: { name: 'Marta VIP' } });
  expect((v!.data as { matchedRules: string[] }).matchedRules).toEqual(['vip', 'access-passwords']);
});

it('with OVERFLOW_MODE=escalate a conversation past its SLA moves one tier up', async () => {
  const conv = await h.openedBy((await h.send('My wifi keeps disconnecting')).messageId);
  const [over] = await h.event(conv, 'overflowed');
  expect(over).toMatchObject({ tier: 2, fromTier: 1, data: { mode: 'escalate' } });
  await h.createAgent('tier2', { tiers: [2] });
  const a = await h.connect('tier2');
  const offer = await a.offer(conv);
  expect(offer.conversation).toMatchObject({ tier: 2, category: 'connectivity' });
});
