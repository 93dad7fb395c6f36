import { assertValid, ContractError, deterministicMessageId, InboundMessage, problemsOf, topicNames } from '@omni/contracts';

const valid = {
  schema: 'omni.inbound.v1',
  messageId: deterministicMessageId('twilio', 'SM123'),
  channel: 'sms',
  provider: 'twilio',
  providerMessageId: 'SM123',
  threadKey: 'sms:+34600111222',
  from: { channel: 'sms', address: '+34600111222', phone: '+34600111222' },
  sentAt: '2026-11-23T10:00:00.000Z',
  receivedAt: '2026-11-23T10:00:01.000Z',
  text: 'hola',
};

describe('inbound envelope contract', () => {
  it('accepts a complete envelope', () => expect(problemsOf(InboundMessage, valid)).toEqual([]));

  it('names every failing field', () => {
    const problems = problemsOf(InboundMessage, { ...valid, channel: 'fax', sentAt: 'yesterday', extra: 1, from: { channel: 'sms' } });
    expect(problems.join('\n')).toMatch(/\/channel/);
    expect(problems.join('\n')).toMatch(/\/sentAt: must match format "date-time"/);
    expect(problems.join('\n')).toMatch(/must NOT have additional properties 'extra'/);
    expect(problems.join('\n')).toMatch(/\/from: must have required property 'address'/);
  });

  it('assertValid throws a ContractError carrying the problems', () => {
    try {
      assertValid(InboundMessage, { ...valid, text: undefined });
      throw new Error('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(ContractError);
      expect((err as ContractError).problems).toEqual(["/: must have required property 'text'"]);
    }
  });
});

describe('ids and topics', () => {
  it('derives the same message id for a redelivered webhook and different ids otherwise', () => {
    expect(deterministicMessageId('twilio', 'SM1')).toBe(deterministicMessageId('twilio', 'SM1'));
    expect(deterministicMessageId('twilio', 'SM1')).not.toBe(deterministicMessageId('twilio', 'SM2'));
    // the separator keeps ("ab","c") and ("a","bc") apart
    expect(deterministicMessageId('ab', 'c')).not.toBe(deterministicMessageId('a', 'bc'));
  });
  it('suffixes every topic for test isolation', () => {
    expect(topicNames()).toMatchObject({ inbound: 'omni.inbound.v1', dlq: 'omni.dlq.v1' });
    expect(topicNames('.t1').conversations).toBe('omni.conversations.v1.t1');
  });
});
