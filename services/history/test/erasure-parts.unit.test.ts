/**
 * An erasure is sent as omni.erasures.v1 records that each fit the contract; together they name
 * every customer id, identity, conversation and thread key, and each is a valid record on its own.
 */
import fc from 'fast-check';
import { ErasureEvent, erasureEventProblems, problemsOf } from '@omni/contracts';
import { erasureParts } from '@omni/history/src/store/erasure';

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

describe('erasureParts', () => {
  it('is one record for a small erasure', () => {
    const parts = erasureParts({ erasureId: 'era_1', customerIds: ['cus_1'], identities: [{ channel: 'email', address: 'a@example.com' }], requestedAt: '2026-11-28T10:00:00.000Z' }, ['conv_1'], ['email:t1']);
    expect(parts).toEqual([
      {
        schema: 'omni.erasures.v1',
        erasureId: 'era_1',
        part: 0,
        parts: 1,
        customerIds: ['cus_1'],
        identities: [{ channel: 'email', address: 'a@example.com' }],
        conversationIds: ['conv_1'],
        threadKeys: ['email:t1'],
        requestedAt: '2026-11-28T10:00:00.000Z',
      },
    ]);
  });

  it('splits every list so each record is valid and together they name everything', () => {
    const ids = (prefix: string, max: number) => fc.uniqueArray(fc.nat({ max: 100_000 }).map((n) => `${prefix}${n}`), { maxLength: max });
    fc.assert(
      fc.property(
        ids('cus_', 40).filter((a) => a.length > 0),
        ids('addr', 40),
        ids('conv_', 60),
        ids('chat:', 60),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 5 }),
        (customerIds, addresses, conversations, threads, max, idsMax) => {
          const identities = addresses.map((address) => ({ channel: 'chat' as const, address }));
          const parts = erasureParts({ erasureId: 'era_p', customerIds, identities, requestedAt: '2026-11-28T10:00:00.000Z' }, conversations, threads, max, idsMax);
          for (const p of parts) {
            expect(problemsOf(ErasureEvent, p)).toEqual([]);
            expect(erasureEventProblems(p)).toEqual([]);
            expect(p.parts).toBe(parts.length);
            expect(p.conversationIds.length).toBeLessThanOrEqual(max);
            expect(p.identities.length).toBeLessThanOrEqual(idsMax);
            expect(p.customerIds.length).toBeLessThanOrEqual(idsMax);
          }
          expect(parts.map((p) => p.part)).toEqual(parts.map((_, i) => i));
          const all = <K extends 'customerIds' | 'conversationIds' | 'threadKeys'>(k: K) => new Set(parts.flatMap((p) => p[k]));
          expect(all('customerIds')).toEqual(new Set(customerIds));
          expect(all('conversationIds')).toEqual(new Set(conversations));
          expect(all('threadKeys')).toEqual(new Set(threads));
          expect(new Set(parts.flatMap((p) => p.identities.map((i) => i.address)))).toEqual(new Set(addresses));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
