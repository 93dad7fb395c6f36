const E164 = /^\+[1-9][0-9]{6,14}$/;

/**
 * A phone number in E.164 (`+14155550100`), or undefined when the value is not one (Twilio sends
 * "Anonymous", "client:…" or "sip:…" for callers without a number). Spaces, dots, dashes and
 * parentheses are tolerated because adapters and humans write them.
 */
export function toE164(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const compact = value.trim().replace(/[\s().-]/g, '');
  const withPlus = compact.startsWith('00') ? `+${compact.slice(2)}` : compact;
  return E164.test(withPlus) ? withPlus : undefined;
}
