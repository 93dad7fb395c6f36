import fc from 'fast-check';
import { acceptedEncodings, pickEncoding, type StaticFile } from '../src/static-files';
import { hourPoint, hoursOfToday } from '../src/kpi-series';

const file: StaticFile = { type: 'text/javascript', etag: '"x"', identity: Buffer.from('id'), br: Buffer.from('br'), gzip: Buffer.from('gz') };

describe('console static files', () => {
  it.each([
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip', 'gzip'],
    ['br;q=0, gzip;q=0.5', 'gzip'],
    ['BR', 'br'],
    ['identity', undefined],
    ['*', 'br'],
    ['', undefined],
    [undefined, undefined],
  ])('Accept-Encoding %p → %p', (header, expected) => {
    expect(pickEncoding(file, header).encoding).toBe(expected);
  });

  it('property: any header picks a body the file has, never an encoding the header refuses', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('br;q=0', 'gzip;q=0,br;q=0', 'br;q=0.0')), (h) => {
        const { body, encoding } = pickEncoding(file, h);
        expect([file.identity, file.br, file.gzip]).toContain(body);
        if (encoding) expect(acceptedEncodings(h).has(encoding) || acceptedEncodings(h).has('*')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('wallboard KPI series', () => {
  it('lists the hours of the UTC day up to now', () => {
    const hours = hoursOfToday(new Date('2026-03-01T02:30:00Z'));
    expect(hours.map((h) => h.toISOString())).toEqual(['2026-03-01T00:00:00.000Z', '2026-03-01T01:00:00.000Z', '2026-03-01T02:00:00.000Z']);
  });
  it('takes the worst tier for queue waits', () => {
    const k = { conversations: 3, resolved: 1, firstContactResolution: { rate: 1 }, firstResponseTime: { p50Ms: 1000 }, resolutionTime: { p50Ms: null }, escalation: { rate: 0, byTier: [], paths: [] }, queueWait: [{ tier: 1, count: 2, p50Ms: 10, p95Ms: 20 }, { tier: 2, count: 0, p50Ms: null, p95Ms: null }, { tier: 3, count: 1, p50Ms: 30, p95Ms: 5 }], csat: { average: null, responses: 0 } };
    expect(hourPoint(new Date('2026-03-01T02:00:00Z'), k)).toMatchObject({ t: 1772330400, conversations: 3, queueWaitP50Ms: 30, queueWaitP95Ms: 20 });
  });
});
