import { Type } from '@sinclair/typebox';
import { CommonEnv, ConfigError, loadConfig, parsePairs, splitList } from '@omni/config';

describe('loadConfig', () => {
  const Env = { ...CommonEnv, PORT: Type.Integer({ default: 8080 }), SECRET: Type.String({ minLength: 16 }) };

  it('applies defaults and coerces numbers', () => {
    const c = loadConfig(Env, { SECRET: 'x'.repeat(16), PORT: '9001' });
    expect(c.PORT).toBe(9001);
    expect(c.KAFKA_BROKERS).toBe('127.0.0.1:9092');
    expect(c.KAFKA_TOPIC_PARTITIONS).toBe(6);
  });

  it.each([
    [{}, 'SECRET'],
    [{ SECRET: 'short' }, 'SECRET'],
    [{ SECRET: 'x'.repeat(16), PORT: 'eighty' }, 'PORT'],
    [{ SECRET: 'x'.repeat(16), DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ SECRET: 'x'.repeat(16), LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('fails naming the bad variable for %j', (env, variable) => {
    expect(() => loadConfig(Env, env)).toThrow(ConfigError);
    expect(() => loadConfig(Env, env)).toThrow(new RegExp(variable));
  });
});

describe('list parsing', () => {
  it('splits and trims', () => expect(splitList(' a, b ,,c ')).toEqual(['a', 'b', 'c']));
  it('parses id:secret pairs keeping colons in the secret', () => {
    expect([...parsePairs('web:k1, crm:k:2', 'X')]).toEqual([
      ['web', 'k1'],
      ['crm', 'k:2'],
    ]);
  });
  it('rejects an entry without a secret, naming the variable', () => expect(() => parsePairs('web', 'ADAPTER_API_KEYS')).toThrow(/ADAPTER_API_KEYS/));
});
