import { createHmac } from 'node:crypto';
import { checkMetaSignature, metaSignature } from '../src/domain/meta-signature';

describe('Meta X-Hub-Signature-256', () => {
  const secret = 'app-secret-for-tests-0123';
  // non-ASCII on purpose: the HMAC is over the bytes Meta sent, not a re-serialisation
  const body = Buffer.from('{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"caf\\u00e9 ñ"}}]}]}', 'utf8');
  const expected = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');

  it('computes sha256= + hex HMAC-SHA256 of the raw body', () => {
    expect(metaSignature(body, secret)).toBe(expected);
  });

  it.each([
    ['the exact signature', expected, 'ok'],
    ['upper-case hex', 'sha256=' + expected.slice(7).toUpperCase(), 'ok'],
    ['an array header (first value)', [expected], 'ok'],
    ['no header', undefined, 'missing'],
    ['an empty header', '', 'missing'],
    ['a signature of another body', metaSignature(Buffer.from('{}'), secret), 'mismatch'],
    ['a signature with another secret', metaSignature(body, 'other-secret'), 'mismatch'],
    ['the legacy sha1 header format', 'sha1=' + createHmac('sha1', secret).update(body).digest('hex'), 'mismatch'],
    ['a truncated digest', expected.slice(0, 40), 'mismatch'],
    ['hex without prefix', expected.slice(7), 'mismatch'],
  ] as const)('%s → %s', (_what, header, result) => {
    expect(checkMetaSignature(body, header as string | string[] | undefined, secret)).toBe(result);
  });

  it('matches the published example of the X-Hub-Signature-256 scheme', () => {
    // Meta documents the scheme but publishes no test vector; GitHub's webhook docs publish one for
    // the identical header format (sha256=<hex HMAC-SHA256 of the raw body>), written out here.
    const published = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(metaSignature(Buffer.from('Hello, World!'), "It's a Secret to Everybody")).toBe(published);
    expect(checkMetaSignature(Buffer.from('Hello, World!'), published, "It's a Secret to Everybody")).toBe('ok');
  });

  it('detects a single changed byte in the body', () => {
    const tampered = Buffer.from(body);
    tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 1;
    expect(checkMetaSignature(tampered, expected, secret)).toBe('mismatch');
  });
});
