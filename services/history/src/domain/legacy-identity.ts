import type { Channel } from '@omni/contracts';

/**
 * The address normalisation history used before look-alikes were kept apart (full Unicode
 * lower-casing of e-mail addresses, a regex for phone numbers, Unicode trimming). Kept only so the
 * renormalise-identities command can tell which stored identity each raw address was filed under.
 */
export function legacyNormaliseAddress(channel: Channel, address: string): string {
  if (channel === 'email') {
    let s = address.trim();
    const angle = /<([^>]+)>/.exec(s);
    if (angle) s = angle[1]!.trim();
    s = s.replace(/^mailto:/i, '').toLowerCase();
    return /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/.test(s) ? s : address.trim().toLowerCase();
  }
  if (channel === 'phone' || channel === 'sms' || channel === 'whatsapp') {
    let s = address.trim().replace(/^(tel|sms|whatsapp):/i, '').replace(/[\s().\-/]/g, '');
    if (s.startsWith('00')) s = `+${s.slice(2)}`;
    if (!s.startsWith('+') && channel === 'whatsapp' && /^[1-9]\d{6,14}$/.test(s)) s = `+${s}`;
    return /^\+[1-9]\d{6,14}$/.test(s) ? s : address.trim();
  }
  return address.trim();
}
