import { Attachment } from './envelopes';
import { fitTo, isStorable, limitOf, truncateCodePoints } from './storable';

const A = Attachment.properties;

/** A key-like attachment field the contract can carry: storable and cut to its limits, else left out. */
function fitKey(schema: (typeof A)['contentType'], v: string | undefined): string | undefined {
  if (v === undefined || !isStorable(v)) return undefined;
  const { maxLength, maxBytes } = limitOf(schema);
  const cut = truncateCodePoints(v, maxLength, maxBytes);
  return cut.length > 0 ? cut : undefined;
}

/**
 * Attachment metadata from a provider as the contract accepts it, so one odd attachment never costs
 * the customer the whole message: the name is cleaned and cut by code point; a content type or
 * content id that cannot be stored (NUL, a lone surrogate) is left out, a long one cut; a URL that
 * cannot be carried whole is left out, never cut. (Adapters posting the generic format are refused
 * instead: they can fix their input.)
 */
export function fitAttachment(a: Attachment): Attachment {
  const contentType = fitKey(A.contentType, a.contentType);
  const contentId = fitKey(A.contentId, a.contentId);
  const urlLimit = limitOf(A.url);
  const url = a.url !== undefined && isStorable(a.url) && [...a.url].length <= urlLimit.maxLength && Buffer.byteLength(a.url) <= urlLimit.maxBytes ? a.url : undefined;
  return {
    ...(a.name !== undefined ? { name: fitTo(A.name, a.name) } : {}),
    ...(contentType ? { contentType } : {}),
    ...(a.size !== undefined && Number.isSafeInteger(a.size) && a.size >= 0 ? { size: a.size } : {}),
    ...(url ? { url } : {}),
    ...(contentId ? { contentId } : {}),
  };
}
