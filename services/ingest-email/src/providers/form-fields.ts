import type { Attachment } from '@omni/contracts';
import { badField } from '@omni/service';

/** What the multipart parser leaves in the body for an uploaded file: metadata, the bytes drained. */
export interface UploadedFile {
  file: true;
  filename?: string;
  contentType?: string;
  size: number;
}

/** A form body (urlencoded or multipart): text fields, repeated fields as arrays, files as metadata. */
export type FormFields = Record<string, string | string[] | UploadedFile | UploadedFile[] | undefined>;

export function isFile(v: unknown): v is UploadedFile {
  return typeof v === 'object' && v !== null && (v as UploadedFile).file === true;
}

/** A text field's value (first if repeated); case-insensitive fallback, as header-named fields vary. */
export function field(b: FormFields, name: string): string | undefined {
  let v = b[name];
  if (v === undefined) {
    const lower = name.toLowerCase();
    const key = Object.keys(b).find((k) => k.toLowerCase() === lower);
    v = key ? b[key] : undefined;
  }
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}

/** Parses a field that carries JSON, naming the field on failure. */
export function jsonField<T>(b: FormFields, name: string): T | undefined {
  const v = field(b, name);
  if (v === undefined || v === '') return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    throw badField(`body.${name}`, 'must be JSON');
  }
}

/** Every uploaded file in the body, in field-name order, as attachment metadata. */
export function uploadedAttachments(b: FormFields, namePattern: RegExp): { field: string; attachment: Attachment }[] {
  const out: { field: string; attachment: Attachment }[] = [];
  for (const key of Object.keys(b).sort((a, z) => a.localeCompare(z, 'en', { numeric: true }))) {
    if (!namePattern.test(key)) continue;
    const values = Array.isArray(b[key]) ? (b[key] as unknown[]) : [b[key]];
    for (const v of values)
      if (isFile(v))
        out.push({ field: key, attachment: { ...(v.filename ? { name: v.filename } : {}), ...(v.contentType ? { contentType: v.contentType } : {}), size: v.size } });
  }
  return out;
}
