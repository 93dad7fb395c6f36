import fc from 'fast-check';
import { formatWait, noticeLanguage, outOfHoursText, waitNoticeText } from '../src/domain/out-of-hours';

const runs = (n: number) => n * Number(process.env.PROPERTY_RUNS_FACTOR ?? 1);

describe('customer notices', () => {
  it.each([
    ['es', 'es'],
    ['en', 'en'],
    ['fr', 'en'],
    [null, 'en'],
  ] as const)('language %s → %s', (l, expected) => {
    expect(noticeLanguage(l)).toBe(expected);
  });

  it('outside hours: when the team is back, in the team time zone and the customer language', () => {
    const monday9 = new Date('2026-12-28T08:00:00Z'); // 09:00 in Madrid
    // the date wording comes from ICU (Intl), whose punctuation varies between Node versions: check its parts
    const es = outOfHoursText(monday9, 'Europe/Madrid', 'es');
    expect(es).toMatch(/^Hemos recibido tu mensaje\. Nuestro equipo está fuera de horario y vuelve el lunes, 28 de diciembre.* 0?9:00 \(Europe\/Madrid\); te responderemos entonces/);
    const en = outOfHoursText(monday9, 'Europe/Madrid', 'en');
    expect(en).toMatch(/^We have received your message\. Our team is outside business hours and back on Monday,? 28 December.* 09:00 \(Europe\/Madrid\); we will answer then/);
    expect(outOfHoursText(null, 'UTC', 'en')).toMatch(/as soon as it is back/);
  });

  it.each([
    [30_000, 'en', 'about a minute'],
    [12 * 60_000 + 1, 'es', 'unos 13 minutos'],
    [3 * 3_600_000, 'en', 'more than 3 hours'],
  ] as const)('formatWait(%d, %s)', (ms, lang, text) => {
    expect(formatWait(ms, lang)).toBe(text);
  });

  it('wait notices say the estimate', () => {
    expect(waitNoticeText('over-threshold', 15 * 60_000, 'es')).toContain('unos 15 minutos');
    expect(waitNoticeText('grown', 40 * 60_000, 'en')).toContain('about 40 minutes');
  });

  it('any instant and zone gives a non-empty text naming the zone', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constantFrom('UTC', 'Europe/Madrid', 'America/Bogota', 'Asia/Kolkata'), fc.constantFrom('es' as const, 'en' as const), (t, tz, lang) => {
        const s = outOfHoursText(new Date(t), tz, lang);
        expect(s).toContain(`(${tz})`);
      }),
      { numRuns: runs(200) },
    );
  });
});
