/**
 * Dedupe retention (shared by the four ingest services, exercised through ingest-social's adapter
 * route): ids older than DEDUPE_RETENTION_DAYS are forgotten, each thread keeps its latest row
 * whatever its age (outbound delivery reads the thread's provider from it), recent ids still answer
 * a retry as a duplicate, and 0 keeps everything. Rows are aged with SQL; the service sweeps.
 */
import { sweepDedupe, startIngestService } from '@omni/ingest';
import { readConfig } from '../src/config';
import { start } from '../src/start';
import { eventually, serviceUnderTest, testLogger, type ServiceUnderTest, type TestWorld, type TopicWatcher } from '../../../test/support/infra';

const KEY = 'retention-key-0123456789';

describe('ingest dedupe retention', () => {
  let t: ServiceUnderTest;
  let world: TestWorld;
  let url: string;
  let inbound: TopicWatcher;

  beforeAll(async () => {
    t = await serviceUnderTest('dedupe', (w) =>
      startIngestService(
        'social',
        readConfig(w.env({ ADAPTER_API_KEYS: `telegram-bot:${KEY}`, META_APP_SECRET: 'unused-secret', META_VERIFY_TOKEN: 'unused', DEDUPE_RETENTION_DAYS: '7', DEDUPE_SWEEP_INTERVAL_MS: '200' })),
        testLogger,
        start,
      ),
    );
    ({ world, url, inbound } = t);
  });

  afterAll(() => t?.close());

  const post = (id: string, thread: string) =>
    fetch(`${url}/v1/social/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ adapterMessageId: id, channel: 'telegram', threadKey: thread, from: { address: `tg-${thread}` }, text: `message ${id}` }),
    });
  const rows = async () =>
    (await world.pool.query<{ provider_message_id: string }>('SELECT provider_message_id FROM ingest.dedupe ORDER BY provider_message_id')).rows.map((r) => r.provider_message_id);
  const age = (ids: string[], days: number) =>
    world.pool.query(`UPDATE ingest.dedupe SET published_at = now() - make_interval(days => $2::int) WHERE provider_message_id = ANY($1::text[])`, [ids, days]);

  it('forgets ids past the retention but keeps each thread’s latest row and recent ids', async () => {
    for (const [id, thread] of [['a1', 'ta'], ['a2', 'ta'], ['a3', 'ta'], ['b1', 'tb']] as const) expect((await post(id, thread)).status).toBe(202);
    await inbound.waitFor((v) => v.threadKey === 'telegram:ta' || v.threadKey === 'telegram:tb', 4);
    // a1, a2 older than the retention with a newer row on their thread; b1 old but its thread's only row
    await age(['a1'], 12);
    await age(['a2', 'b1'], 10);
    await eventually(async () => ((await rows()).includes('a2') ? undefined : true), 'the sweep to remove a1 and a2', 30000);
    expect(await rows()).toEqual(['a3', 'b1']);

    // what is still remembered is answered as a duplicate and not published again…
    for (const [id, thread] of [['a3', 'ta'], ['b1', 'tb']] as const) {
      const res = await post(id, thread);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: 'duplicate' });
    }
    // …and an id past the retention is new again (providers stop retrying long before; the router
    // would still drop the copy by message id)
    expect((await post('a1', 'ta')).status).toBe(202);
    const seen = await inbound.waitFor((v) => v.threadKey === 'telegram:ta' || v.threadKey === 'telegram:tb', 5);
    expect(seen.map((s) => String(s.value.providerMessageId)).sort()).toEqual(['a1', 'a1', 'a2', 'a3', 'b1']);
  });

  it('keeps every row when the retention is 0', async () => {
    expect((await post('c1', 'tc')).status).toBe(202);
    expect((await post('c2', 'tc')).status).toBe(202);
    // the service stops here, so that only the sweeps called below run
    await t.stopService();
    await age(['c1'], 400);
    expect(await sweepDedupe(world.pool, 0)).toBe(0);
    expect((await rows()).filter((r) => r.startsWith('c'))).toEqual(['c1', 'c2']);
    // the same rows with a retention: c1 goes
    expect(await sweepDedupe(world.pool, 7)).toBe(1);
    expect((await rows()).filter((r) => r.startsWith('c'))).toEqual(['c2']);
  });
});
