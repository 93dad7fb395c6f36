import { expectedTwilioSignature, validTwilioSignature, withDefaultPort, withoutDefaultPort } from '../src/domain/twilio-signature';

// Twilio's published example ("Validating requests" in the Twilio security docs): auth token 12345,
// this URL and these voice parameters sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=.
const DOC_TOKEN = '12345';
const DOC_URL = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const DOC_PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
const DOC_SIGNATURE = '0/KCTR6DLpKmkAf8muzZqo1nDgQ=';

describe('Twilio request signature', () => {
  it("reproduces Twilio's published example", () => {
    expect(expectedTwilioSignature(DOC_TOKEN, DOC_URL, DOC_PARAMS)).toBe(DOC_SIGNATURE);
    expect(validTwilioSignature(DOC_TOKEN, DOC_SIGNATURE, DOC_URL, DOC_PARAMS)).toBe(true);
  });

  it.each([
    ['a changed parameter', DOC_URL, { ...DOC_PARAMS, Digits: '1235' }, DOC_TOKEN],
    ['an added parameter', DOC_URL, { ...DOC_PARAMS, Extra: 'x' }, DOC_TOKEN],
    ['another URL', 'https://mycompany.com/myapp.php?foo=1&bar=3', DOC_PARAMS, DOC_TOKEN],
    ['another auth token', DOC_URL, DOC_PARAMS, '54321'],
  ])('rejects the example signature with %s', (_what, url, params, token) => {
    expect(validTwilioSignature(token, DOC_SIGNATURE, url, params)).toBe(false);
  });

  // The same cases as twilio-node's webhook tests: a signature made over the URL with the default
  // port validates against the URL without it, and the other way round.
  it.each([
    ['https://example.com:443/path?test=param', 'https://example.com:443/path?test=param'],
    ['https://example.com:443/path?test=param', 'https://example.com/path?test=param'],
    ['https://example.com/path?test=param', 'https://example.com/path?test=param'],
    ['https://example.com/path?test=param', 'https://example.com:443/path?test=param'],
    ['http://example.com:80/hook', 'http://example.com/hook'],
    ['http://example.com/hook', 'http://example.com:80/hook'],
  ])('signed over %s validates at %s', (signedUrl, targetUrl) => {
    const sig = expectedTwilioSignature('s3cr3t', signedUrl, { Body: 'hola' });
    expect(validTwilioSignature('s3cr3t', sig, targetUrl, { Body: 'hola' })).toBe(true);
  });

  it('does not accept a non-default port or a different query', () => {
    const sig = expectedTwilioSignature('s3cr3t', 'https://example.com:8443/path', {});
    expect(validTwilioSignature('s3cr3t', sig, 'https://example.com/path', {})).toBe(false);
    const sig2 = expectedTwilioSignature('s3cr3t', 'https://example.com/path?test=param', {});
    expect(validTwilioSignature('s3cr3t', sig2, 'https://example.com/path?test=param2', {})).toBe(false);
  });

  it('adds and removes default ports only', () => {
    expect(withDefaultPort('https://a.example/x?y=1')).toBe('https://a.example:443/x?y=1');
    expect(withDefaultPort('http://a.example/x')).toBe('http://a.example:80/x');
    expect(withDefaultPort('https://a.example:8443/x')).toBe('https://a.example:8443/x');
    expect(withoutDefaultPort('https://a.example:443/x')).toBe('https://a.example/x');
    expect(withoutDefaultPort('https://a.example:8443/x')).toBe('https://a.example:8443/x');
  });

  it('signs repeated parameters once per value, values sorted', () => {
    const a = expectedTwilioSignature('t', 'https://h/p', { X: ['b', 'a'] });
    const b = expectedTwilioSignature('t', 'https://h/p', { X: ['a', 'b'] });
    expect(a).toBe(b);
  });

  it('rejects a signature of another length without throwing', () => {
    expect(validTwilioSignature(DOC_TOKEN, 'short', DOC_URL, DOC_PARAMS)).toBe(false);
  });
});
