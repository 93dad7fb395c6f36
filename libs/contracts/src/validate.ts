import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';
import { addContractKeywords, cleanBySchema } from './storable';

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
addContractKeywords(ajv);
const cache = new WeakMap<TSchema, ValidateFunction>();

/** Formats ajv errors as "path: message" strings naming the field that failed. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'` : '';
    return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
  });
}

export class ContractError extends Error {
  constructor(
    readonly schemaId: string,
    readonly problems: string[],
  ) {
    super(`${schemaId} invalid: ${problems.join('; ')}`);
  }
}

function compiled(schema: TSchema): ValidateFunction {
  let fn = cache.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    cache.set(schema, fn);
  }
  return fn;
}

/** True when the value satisfies the contract schema. */
export function check<S extends TSchema>(schema: S, value: unknown): value is Static<S> {
  return compiled(schema)(value) as boolean;
}

/** Every problem with the value as "path: message" (empty when valid). */
export function problemsOf(schema: TSchema, value: unknown): string[] {
  const fn = compiled(schema);
  return fn(value) ? [] : describeErrors(fn.errors);
}

/** Validates and throws ContractError listing every failing field. */
export function assertValid<S extends TSchema>(schema: S, value: unknown): Static<S> {
  const fn = compiled(schema);
  if (!fn(value)) throw new ContractError(String(schema.$id ?? 'value'), describeErrors(fn.errors));
  return value as Static<S>;
}

/**
 * The contract's clean step followed by validation: fields marked 'clean' lose their NUL and unpaired
 * surrogates (listed in the value's `cleaned` when the schema has that field), free-form fields are
 * bounded, then the whole value is validated. Every producer goes through this (Publisher.publish).
 */
export function prepareForContract<S extends TSchema>(schema: S, value: unknown): Static<S> {
  const r = cleanBySchema(schema, value);
  let out = r.value as Record<string, unknown>;
  if (r.cleaned.length > 0 && (schema.properties as Record<string, unknown> | undefined)?.cleaned) {
    const before = Array.isArray(out.cleaned) ? (out.cleaned as string[]) : [];
    out = { ...out, cleaned: [...new Set([...before, ...r.cleaned])] };
  }
  return assertValid(schema, out);
}
