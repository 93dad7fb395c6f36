import { PublishRejectedError } from './publish-errors';

/**
 * The largest record any topic carries, in bytes — one figure for the broker (`message.max.bytes`
 * in deploy/kafka/kafka.sh and docker-compose.yml), every topic we create (`max.message.bytes`),
 * the producer (records and requests are cut to fit) and the consumers (fetch sizes). 8 MiB holds
 * the largest envelope the contract allows (text 100k + html 500k characters, which JSON-encode to
 * at most ~6 bytes each, plus attachments metadata and raw) with room to spare, while big parts
 * (attachments, HTML over the contract's limit) never enter an envelope (docs/provider-contracts.md).
 */
export const KAFKA_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Room kept under the limit for Kafka's record-batch and per-record framing. */
export const KAFKA_FRAMING_BYTES = 64 * 1024;

/**
 * Thrown before sending for a record that can never fit the broker's limit: a permanent refusal
 * (answered 413), not an outage.
 */
export class RecordTooLargeError extends PublishRejectedError {
  readonly statusCode = 413;
  constructor(
    readonly topic: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`record for ${topic} is ${bytes} bytes, over the ${limit}-byte message limit`, true);
  }
}

/**
 * Cuts items, in order, into groups of at most `limit` bytes (an item bigger than the limit gets a
 * group of its own): the producer sends each group as one request, so coalesced records never add
 * up to a partition batch the broker refuses.
 */
export function groupsWithin<T>(items: T[], bytesOf: (item: T) => number, limit: number): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const b = bytesOf(item);
    if (current.length > 0 && bytes + b > limit) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += b;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
