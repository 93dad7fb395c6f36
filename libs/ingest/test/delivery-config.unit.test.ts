import { ConfigError } from '@omni/config';
import { loadConfig } from '@omni/config';
import { IngestEnv } from '../src/ingest-service';
import { deliverySettings, parseDeliveryTargets } from '../src/delivery/delivery-config';
import { deliveryGroupId } from '../src/delivery/start-delivery';

describe('DELIVERY_TARGETS', () => {
  it('parses provider=url|secret entries, secrets may contain = and the URL a query', () => {
    const t = parseDeliveryTargets('adapter:web=https://a.example/cb?x=1|s3cret==a , twilio=http://127.0.0.1:9000/sms|0123456789');
    expect([...t.values()]).toEqual([
      { provider: 'adapter:web', url: 'https://a.example/cb?x=1', secret: 's3cret==a' },
      { provider: 'twilio', url: 'http://127.0.0.1:9000/sms', secret: '0123456789' },
    ]);
    expect(parseDeliveryTargets('').size).toBe(0);
  });

  it.each([
    ['nourl', 'must be provider=callbackUrl|secret'],
    ['a=https://x.example/cb', 'secret missing'],
    ['a=https://x.example/cb|', 'secret missing'],
    ['a=not a url|longenough', 'unparseable callback URL'],
    ['a=ftp://x.example/|longenough', 'must be http or https'],
    ['a=https://x.example/|short', 'at least 8'],
    ['a=https://x.example/|longenough,a=https://y.example/|longenough', 'twice'],
  ])('rejects %p naming the variable', (value, why) => {
    expect(() => parseDeliveryTargets(value)).toThrow(ConfigError);
    expect(() => parseDeliveryTargets(value)).toThrow(/DELIVERY_TARGETS/);
    expect(() => parseDeliveryTargets(value)).toThrow(why);
  });

  it('fills defaults and checks the backoff bounds and the Reply-To base', () => {
    expect(deliverySettings({}).DELIVERY_MAX_ATTEMPTS).toBe(8);
    expect(() => deliverySettings({ DELIVERY_BASE_BACKOFF_MS: 100, DELIVERY_MAX_BACKOFF_MS: 10 })).toThrow(/DELIVERY_MAX_BACKOFF_MS/);
    expect(() => deliverySettings({ EMAIL_REPLY_TO_ADDRESS: 'support+x@example.com' })).toThrow(/EMAIL_REPLY_TO_ADDRESS/);
  });

  it('reads the delivery variables from the environment with every ingest service config', () => {
    const c = loadConfig(IngestEnv, { DELIVERY_ENABLED: 'false', DELIVERY_MAX_ATTEMPTS: '3', DELIVERY_TARGETS: 'twilio=https://s.example/sms|0123456789' });
    expect(c).toMatchObject({ DELIVERY_ENABLED: false, DELIVERY_MAX_ATTEMPTS: 3, DELIVERY_BASE_BACKOFF_MS: 500, DELIVERY_MAX_BACKOFF_MS: 60000 });
    expect(() => loadConfig(IngestEnv, { DELIVERY_MAX_ATTEMPTS: '0' })).toThrow(/DELIVERY_MAX_ATTEMPTS/);
    expect(deliveryGroupId('email', { DELIVERY_GROUP_ID: '' })).toBe('ingest-email-delivery');
    expect(deliveryGroupId('email', { DELIVERY_GROUP_ID: '' }, '.t1')).toBe('ingest-email-delivery.t1');
    expect(deliveryGroupId('email', { DELIVERY_GROUP_ID: 'custom' })).toBe('custom');
  });
});
