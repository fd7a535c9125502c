import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/load-config';
import { readFailure } from '../config/read-failure';
import { Directory, DirectoryEntry, E164 } from './directory';

/** A directory read once from a JSON file shaped `{"users": [entry, ...]}`. */
export class JsonDirectory extends Directory {
  private readonly bySub = new Map<string, DirectoryEntry>();
  private readonly byManagedGroup = new Map<string, DirectoryEntry[]>();

  constructor(entries: readonly DirectoryEntry[]) {
    super();
    for (const entry of entries) {
      this.bySub.set(entry.sub, entry);
      for (const group of entry.manages) {
        this.byManagedGroup.set(group, [...(this.byManagedGroup.get(group) ?? []), entry]);
      }
    }
  }

  /** A missing, unreadable or malformed file stops start-up with one line naming it (ConfigError). */
  static fromFile(file: string): JsonDirectory {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError([`DIRECTORY_FILE ${file} cannot be read as JSON: ${readFailure(error)}`]);
    }
    try {
      return new JsonDirectory(parseDirectory(raw, file));
    } catch (error) {
      throw new ConfigError([`DIRECTORY_FILE ${(error as Error).message}`]);
    }
  }

  async findBySub(sub: string): Promise<DirectoryEntry | undefined> {
    return this.bySub.get(sub);
  }

  async managersOf(group: string): Promise<readonly DirectoryEntry[]> {
    return this.byManagedGroup.get(group) ?? [];
  }
}

/** Validates the file's shape so that a typo stops start-up instead of a call. */
export function parseDirectory(raw: unknown, source: string): DirectoryEntry[] {
  const users = (raw as { users?: unknown })?.users;
  if (!Array.isArray(users)) throw new Error(`${source}: expected {"users": [...]}`);
  const seen = new Set<string>();
  return users.map((user: Record<string, unknown>, index) => {
    const where = `${source}: users[${index}]`;
    const strings = (name: string, value: unknown): string[] => {
      if (value === undefined) return [];
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
        throw new Error(`${where}.${name} must be a list of strings`);
      }
      return value as string[];
    };
    if (typeof user?.sub !== 'string' || !user.sub) throw new Error(`${where}.sub must be a non-empty string`);
    if (seen.has(user.sub)) throw new Error(`${where}.sub "${user.sub}" appears twice`);
    seen.add(user.sub);
    const identities = strings('identities', user.identities);
    const bad = identities.filter((n) => !E164.test(n));
    if (bad.length) throw new Error(`${where}.identities are not E.164 numbers: ${bad.join(', ')}`);
    const fixedNumber = user.fixedNumber;
    if (fixedNumber !== undefined && (typeof fixedNumber !== 'string' || !E164.test(fixedNumber))) {
      throw new Error(`${where}.fixedNumber must be an E.164 number`);
    }
    return {
      sub: user.sub,
      username: typeof user.username === 'string' && user.username ? user.username : user.sub,
      identities,
      fixedNumber: fixedNumber as string | undefined,
      groups: strings('groups', user.groups),
      manages: strings('manages', user.manages),
    };
  });
}
