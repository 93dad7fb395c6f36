import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { callbackHeaders, signCallback } from '../src/delivery/callback-signature';

// The verifier published in docs/delivery-callbacks.md, loaded from the file the doc embeds.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { verifyOmniCallback } = require('../../../docs/examples/verify-callback.js') as {
  verifyOmniCallback: (secret: string, headers: Record<string, string | undefined>, rawBody: string, maxAgeSeconds?: number, nowMs?: number) => boolean;
};

describe('callback signature', () => {
  const body = JSON.stringify({ outboundId: 'out_1', text: 'héllo ✓' });
  const now = Date.parse('2026-11-23T02:00:00Z');

  it('signs timestamp + "." + body with HMAC-SHA256 (fixed vector)', () => {
    // computed independently: printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac topsecret
    expect(signCallback('topsecret', 1700000000, '{"a":1}')).toBe('v1=6a939b0c71853d606167625a15168ee9188c6a511c773ef4f42d307f3849e50f');
  });

  it('the documented verifier accepts our headers and rejects tampering, wrong secrets and stale timestamps', () => {
    const h = callbackHeaders('s3cret-value', 'out_1', body, now);
    expect(h['idempotency-key']).toBe('out_1');
    expect(verifyOmniCallback('s3cret-value', h, body, 300, now)).toBe(true);
    expect(verifyOmniCallback('s3cret-value', h, body + ' ', 300, now)).toBe(false);
    expect(verifyOmniCallback('other-secret', h, body, 300, now)).toBe(false);
    expect(verifyOmniCallback('s3cret-value', h, body, 300, now + 301_000)).toBe(false);
    expect(verifyOmniCallback('s3cret-value', { ...h, 'x-omni-signature': 'v1=00' }, body, 300, now)).toBe(false);
    expect(verifyOmniCallback('s3cret-value', { ...h, 'x-omni-timestamp': undefined }, body, 300, now)).toBe(false);
  });

  it('the doc shows the verifier file verbatim', () => {
    const root = join(__dirname, '..', '..', '..');
    const snippet = readFileSync(join(root, 'docs/examples/verify-callback.js'), 'utf8').trim();
    expect(readFileSync(join(root, 'docs/delivery-callbacks.md'), 'utf8')).toContain(snippet);
  });
});
