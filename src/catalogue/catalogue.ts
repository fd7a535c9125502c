import { readFileSync } from 'node:fs';
import { CLIENT_MODES, ClientMode } from '../auth/modes';
import { ConfigError } from '../config/load-config';
import { readFailure } from '../config/read-failure';
import { JsonSchema } from '../common/json-schema';

export type EventTarget = 'identity' | 'group';

export interface CatalogueEntry {
  readonly name: string;
  readonly target: EventTarget;
  readonly modes: readonly ClientMode[];
}

/** The schema of an event's `data` when the catalogue names none: any JSON object. */
export const ANY_DATA: JsonSchema = { type: 'object' };

/** The events the platform may publish and who may receive them (SPEC section 5), kept as data. */
export class EventCatalogue {
  private readonly byName: ReadonlyMap<string, CatalogueEntry>;
  private readonly byMode: ReadonlyMap<ClientMode, readonly string[]>;

  /**
   * `dataSchemas`: the JSON Schema of each event's `data`, as the telephony
   * core publishes it. It documents the payload (the AsyncAPI document, the
   * client library's types); the gateway itself checks only that `data` is an
   * object, and passes it through.
   */
  constructor(
    readonly entries: readonly CatalogueEntry[],
    private readonly dataSchemas: ReadonlyMap<string, JsonSchema> = new Map(),
  ) {
    this.byName = new Map(entries.map((e) => [e.name, e]));
    this.byMode = new Map(CLIENT_MODES.map((mode) => [mode, entries.filter((e) => e.modes.includes(mode)).map((e) => e.name)]));
  }

  /** A missing, unreadable or malformed file stops start-up with one line naming it (ConfigError). */
  static fromFile(file: string): EventCatalogue {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError([`EVENTS_FILE ${file} cannot be read as JSON: ${readFailure(error)}`]);
    }
    try {
      return EventCatalogue.parse(raw as { events?: unknown }, file);
    } catch (error) {
      throw new ConfigError([`EVENTS_FILE ${(error as Error).message}`]);
    }
  }

  private static parse(raw: { events?: unknown }, file: string): EventCatalogue {
    if (!Array.isArray(raw?.events)) throw new Error(`${file}: expected {"events": [...]}`);
    const dataSchemas = new Map<string, JsonSchema>();
    return new EventCatalogue(
      raw.events.map((entry: Record<string, unknown>, index: number) => {
        const where = `${file}: events[${index}]`;
        if (typeof entry?.name !== 'string' || !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(entry.name)) {
          throw new Error(`${where}.name must be an alphanumeric event name`);
        }
        if (entry.target !== 'identity' && entry.target !== 'group') throw new Error(`${where}.target must be "identity" or "group"`);
        const modes = entry.modes;
        if (!Array.isArray(modes) || modes.some((m) => !CLIENT_MODES.includes(m))) {
          throw new Error(`${where}.modes must list modes among ${CLIENT_MODES.join(', ')}`);
        }
        if (entry.data !== undefined) dataSchemas.set(entry.name, dataSchemaOf(entry.data, where));
        return { name: entry.name, target: entry.target, modes };
      }),
      dataSchemas,
    );
  }

  get(name: string): CatalogueEntry | undefined {
    return this.byName.get(name);
  }

  /** The JSON Schema of the event's `data`. */
  dataSchema(name: string): JsonSchema {
    return this.dataSchemas.get(name) ?? ANY_DATA;
  }

  /** Every event the mode may receive, in catalogue order. */
  allowedFor(mode: ClientMode): readonly string[] {
    return this.byMode.get(mode) ?? [];
  }
}

/** An entry's `data`: a JSON Schema of an object, since every event's `data` is one. */
function dataSchemaOf(schema: unknown, where: string): JsonSchema {
  const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!isObject(schema) || (schema as JsonSchema).type !== 'object') {
    throw new Error(`${where}.data must be a JSON Schema of an object ({"type": "object", "properties": {...}})`);
  }
  const { properties } = schema as JsonSchema;
  if (properties !== undefined && (!isObject(properties) || !Object.values(properties).every(isObject))) {
    throw new Error(`${where}.data.properties must map each field to its JSON Schema`);
  }
  return schema as JsonSchema;
}
