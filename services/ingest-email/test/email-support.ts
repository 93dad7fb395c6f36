import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mailgunSignature } from '../src/domain/mailgun-signature';

/** A fixture file's text (fixtures live under test/fixtures/<provider>/). */
export function fixtureText(path: string): string {
  return readFileSync(join(__dirname, 'fixtures', path), 'utf8');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fixtureJson<T extends object = Record<string, any>>(path: string): T {
  return JSON.parse(fixtureText(path)) as T;
}

export const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

/** Mailgun's signature fields for a timestamp, as Mailgun computes them. */
export function mailgunSigned(key: string, timestampS: number, token = `tok${Math.random().toString(16).slice(2)}${Date.now()}`) {
  const timestamp = String(timestampS);
  return { timestamp, token, signature: mailgunSignature(key, timestamp, token) };
}

/** A multipart body: text fields plus files. */
export function multipart(fields: Record<string, string>, files: { field: string; name: string; type: string; content: string | Buffer }[] = []): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append(f.field, new Blob([f.content], { type: f.type }), f.name);
  return form;
}
