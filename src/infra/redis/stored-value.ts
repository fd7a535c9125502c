/**
 * Reading back what the gateway wrote to Redis. Anything may be found there
 * (an operator's SET, an older version's format, a bug), so every adapter
 * checks each value it reads with a small validator of its record, and a value
 * that fails is reported (RedisConnection.badValue) and treated as missing, or
 * repaired: one bad record must never turn every later request of its user
 * into a 500.
 */

/** The records whose values are checked: the `kind` of `vora_store_bad_values_total`. */
export type StoredRecord =
  | 'session'
  | 'session-pointer'
  | 'token-pointer'
  | 'identity-index'
  | 'subscription'
  | 'buffer'
  | 'buffer-meta'
  | 'pending-call'
  | 'rate-limit-counter';

/** What is wrong with a value, for the log; never the value itself, which may hold anything. */
export class Malformed {
  constructor(readonly problem: string) {}
}

type Check = (value: unknown) => boolean;

export const isString: Check = (value) => typeof value === 'string';
export const isNonEmptyString: Check = (value) => typeof value === 'string' && value.length > 0;
export const isBoolean: Check = (value) => typeof value === 'boolean';
export const isStringArray: Check = (value) => Array.isArray(value) && value.every(isString);
export const isTime: Check = (value) => Number.isSafeInteger(value) && (value as number) >= 0;
export const oneOf =
  (values: readonly string[]): Check =>
  (value) =>
    typeof value === 'string' && values.includes(value);

/**
 * JSON text holding an object with (at least) the fields of `shape`, each
 * passing its check, as a new object of exactly those fields; or what is wrong.
 */
export function readJsonRecord<T>(text: string, shape: { readonly [K in keyof T]: Check }): T | Malformed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return new Malformed('not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return new Malformed('not a JSON object');
  const fields = value as Record<string, unknown>;
  const record: Record<string, unknown> = {};
  for (const name of Object.keys(shape) as Array<keyof T & string>) {
    if (!Object.hasOwn(fields, name) || !shape[name](fields[name])) return new Malformed(`${name} is missing or malformed`);
    record[name] = fields[name];
  }
  return record as T;
}

/** A redis-server error reply: a key holding another type than its record's. */
export const isWrongType = (error: unknown): boolean => error instanceof Error && /^WRONGTYPE\b/.test(error.message);
