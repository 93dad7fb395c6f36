import { mailgunFreshness, mailgunSignature, validMailgunSignature } from '../src/domain/mailgun-signature';

// A vector computed independently with `openssl dgst -sha256 -hmac <key>` over timestamp+token.
const KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';
const TIMESTAMP = '1767225600';
const TOKEN = 'c2a4f8e1d0b9a7c6e5f4d3b2a1908f7e6d5c4b3a29180716f5e4d3c2';
const SIGNATURE = 'f88753cbc9a0ca464122ac6ed5e1ffdbc8906f6b57baa5dae0f2f94e87b14849';

describe('Mailgun webhook signature', () => {
  it('is the hex HMAC-SHA256 of timestamp+token with the signing key', () => {
    expect(mailgunSignature(KEY, TIMESTAMP, TOKEN)).toBe(SIGNATURE);
    expect(validMailgunSignature(KEY, TIMESTAMP, TOKEN, SIGNATURE)).toBe(true);
    expect(validMailgunSignature(KEY, TIMESTAMP, TOKEN, SIGNATURE.toUpperCase())).toBe(true);
  });

  it.each([
    ['another key', 'key-other', TIMESTAMP, TOKEN, SIGNATURE],
    ['a changed timestamp', KEY, '1767225601', TOKEN, SIGNATURE],
    ['a changed token', KEY, TIMESTAMP, TOKEN.replace('c2', 'c3'), SIGNATURE],
    ['a truncated signature', KEY, TIMESTAMP, TOKEN, SIGNATURE.slice(0, 40)],
    ['an empty signature', KEY, TIMESTAMP, TOKEN, ''],
  ])('rejects %s', (_what, key, ts, token, sig) => expect(validMailgunSignature(key, ts, token, sig)).toBe(false));

  const now = 1_767_225_600_000;
  it.each([
    ['now', '1767225600', true, undefined],
    ['299 s ago', '1767225301', true, undefined],
    ['301 s ago', '1767225299', false, 'stale timestamp'],
    ['20 s ahead (within skew)', '1767225620', true, undefined],
    ['120 s ahead', '1767225720', false, 'timestamp in the future'],
    ['not a number', '17672x', false, 'timestamp not a number'],
  ])('timestamp %s: fresh=%s', (_what, ts, ok, check) => {
    const f = mailgunFreshness(ts, now, 300, 30);
    expect(f.ok).toBe(ok);
    if (!f.ok) expect(f.check).toBe(check);
  });
});
