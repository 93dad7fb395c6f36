/** Kafka could not be reached or did not acknowledge in time: the caller may retry (HTTP 503). */
export class PublishUnavailableError extends Error {
  readonly code = 'KAFKA_UNAVAILABLE';
}

/**
 * The broker refused these records for good (too large, invalid record): retrying cannot help.
 * `tooLarge` lets an HTTP route answer 413 instead of 503, so the provider does not retry forever.
 */
export class PublishRejectedError extends Error {
  readonly code = 'KAFKA_REJECTED';
  constructor(
    message: string,
    readonly tooLarge: boolean,
  ) {
    super(message);
  }
}
