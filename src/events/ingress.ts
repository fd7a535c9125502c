import { VoraError } from '../common/vora-error';
import { E164 } from '../identity/directory';
import { EventCatalogue } from '../catalogue/catalogue';

export const MAX_BATCH = 500;
export const MAX_DATA_BYTES = 16 * 1024;
const FIELDS = new Set(['event', 'identity', 'group', 'data', 'occurredAt']);
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** An event as the telephony core publishes it (SPEC section 6), before routing: for one identity, or for a group. */
export type PublishedEvent = IdentityEvent | GroupEvent;

export interface IdentityEvent extends EventFields {
  readonly identity: string;
  readonly group?: undefined;
}

/** Reaches the sessions the group's managers opened in manager mode. */
export interface GroupEvent extends EventFields {
  readonly identity?: undefined;
  readonly group: string;
}

interface EventFields {
  readonly event: string;
  readonly timestamp: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** `data` serialized once: its size is checked on it, and every envelope embeds it. */
  readonly dataJson: string;
  /** The `vora:ingress` entry id, for events read from the stream. */
  readonly sourceId?: string;
}

/**
 * Validates a body of `POST /events` (one event or an array of up to 500) or
 * the items of the ingress stream. A batch with one bad item is refused whole,
 * with a message naming the item.
 */
export function parsePublished(body: unknown, catalogue: EventCatalogue, now?: Date): PublishedEvent[] {
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) throw VoraError.badRequest('the batch is empty: send one event or an array of 1 to 500');
  if (items.length > MAX_BATCH) throw VoraError.badRequest(`a batch holds at most ${MAX_BATCH} events, got ${items.length}`);
  // One reception time for the whole batch: events without occurredAt share it.
  const receivedAt = (now ?? new Date()).toISOString();
  return items.map((item, index) => {
    const where = Array.isArray(body) ? `events[${index}]` : 'event';
    try {
      return parseOne(item, catalogue, receivedAt);
    } catch (error) {
      throw VoraError.badRequest(`${where}: ${(error as Error).message}`);
    }
  });
}

function parseOne(item: unknown, catalogue: EventCatalogue, receivedAt: string): PublishedEvent {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new Error('must be a JSON object');
  const fields = item as Record<string, unknown>;
  for (const key in fields) {
    if (!FIELDS.has(key)) throw new Error(`unknown fields: ${Object.keys(fields).filter((name) => !FIELDS.has(name)).join(', ')}`);
  }

  const entry = typeof fields.event === 'string' ? catalogue.get(fields.event) : undefined;
  if (!entry) throw new Error(`unknown event ${JSON.stringify(fields.event ?? null)}`);

  const { identity, group } = fields;
  if (entry.target === 'identity') {
    if (group !== undefined) throw new Error(`${entry.name} is an identity event and takes no group`);
    if (typeof identity !== 'string' || !E164.test(identity)) throw new Error('identity must be an E.164 number');
  } else {
    if (identity !== undefined) throw new Error(`${entry.name} is a group event and takes no identity`);
    if (typeof group !== 'string' || !group || group.length > 64) throw new Error('group must be a group name');
  }

  const data = fields.data ?? {};
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('data must be a JSON object');
  const dataJson = JSON.stringify(data);
  // A UTF-16 unit is at most 3 UTF-8 bytes: most payloads skip the byte count.
  if (dataJson.length * 3 > MAX_DATA_BYTES && Buffer.byteLength(dataJson) > MAX_DATA_BYTES) throw new Error('data is larger than 16 KiB');

  let timestamp = receivedAt;
  if (fields.occurredAt !== undefined) {
    // RFC 3339 with an offset: Date would also take "1" or an RFC 2822 string, and a local time is ambiguous.
    const raw = fields.occurredAt;
    const occurredAt = typeof raw === 'string' && ISO_DATE_TIME.test(raw) && isCalendarDay(raw) ? new Date(raw) : undefined;
    if (!occurredAt || Number.isNaN(occurredAt.getTime())) {
      throw new Error('occurredAt must be an ISO-8601 date-time with an offset, e.g. 2026-11-28T10:15:30.120Z');
    }
    timestamp = occurredAt.toISOString();
  }
  // Both keys on every event, in this order: one object shape for the router to read.
  const target = entry.target === 'identity' ? { identity: identity as string, group: undefined } : { identity: undefined, group: group as string };
  return {
    event: entry.name,
    ...target,
    timestamp,
    data: data as Record<string, unknown>,
    dataJson,
  };
}

/** Date rolls "2026-02-30" over into March instead of refusing it. */
function isCalendarDay(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number);
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0);
  return month >= 1 && month <= 12 && day >= 1 && day <= lastDay.getUTCDate();
}
