import { createHash } from 'node:crypto';

const prepared = new Map<string, string>();

/**
 * A stable name per SQL text. Unnamed statements are parsed and planned by Postgres on every
 * execution, which was most of the database's CPU per routed message; node-postgres prepares a
 * named one once per connection and then only binds it. The routing statements are a fixed set
 * (their text never carries values), so the names stay few.
 */
export function preparedName(sql: string): string {
  let name = prepared.get(sql);
  if (!name) {
    name = `r_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    prepared.set(sql, name);
  }
  return name;
}

/** A query as a named prepared statement (see preparedName). */
export const preparedQuery = (text: string, values: unknown[] = []) => ({ name: preparedName(text), text, values });
