import { isDatabaseUnavailable } from '../src/unavailable';

describe('isDatabaseUnavailable', () => {
  it.each<[string, unknown, boolean]>([
    ['refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), true],
    ['starting up (57P03)', Object.assign(new Error('the database system is starting up'), { code: '57P03' }), true],
    ['admin shutdown (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), true],
    ['connection lost', new Error('Connection terminated unexpectedly'), true],
    ['pool timeout', new Error('timeout exceeded when trying to connect'), true],
    ['unique violation', Object.assign(new Error('duplicate key'), { code: '23505' }), false],
    ['bad text', Object.assign(new Error('invalid byte sequence'), { code: '22021' }), false],
    ['plain error', new Error('boom'), false],
    ['not an error', 'ECONNREFUSED', false],
  ])('%s → %p', (_name, err, want) => expect(isDatabaseUnavailable(err)).toBe(want));
});
