import { readFileSync } from 'node:fs';
import { Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ConfigError } from '../config/load-config';
import { readFailure } from '../config/read-failure';
import { Directory, DirectoryEntry, E164 } from './directory';

/**
 * A directory read from a JSON file shaped `{"users": [entry, ...]}`, and
 * read again on SIGHUP, so that an operator can move a number without a
 * restart. A file that no longer reads or validates is logged and the
 * directory in force kept.
 */
export class JsonDirectory extends Directory implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('Directory');
  private bySub = new Map<string, DirectoryEntry>();
  private byManagedGroup = new Map<string, DirectoryEntry[]>();
  private readonly reloadOnHangup = (): void => void this.reload();

  constructor(
    entries: readonly DirectoryEntry[],
    /** Where reload() reads from; an in-memory directory has none. */
    private readonly file?: string,
  ) {
    super();
    this.index(entries);
  }

  /** A missing, unreadable or malformed file stops start-up with one line naming it (ConfigError). */
  static fromFile(file: string): JsonDirectory {
    try {
      return new JsonDirectory(readDirectoryFile(file), file);
    } catch (error) {
      throw new ConfigError([(error as Error).message]);
    }
  }

  onModuleInit(): void {
    if (this.file) process.on('SIGHUP', this.reloadOnHangup);
  }

  onModuleDestroy(): void {
    process.off('SIGHUP', this.reloadOnHangup);
  }

  /** Reads the file again; true when its entries replaced the ones in force. */
  reload(): boolean {
    if (!this.file) return false;
    try {
      this.index(readDirectoryFile(this.file));
    } catch (error) {
      this.log.error(`${(error as Error).message}; the directory in force is kept`);
      return false;
    }
    this.log.log(`DIRECTORY_FILE ${this.file} reloaded: ${this.bySub.size} accounts`);
    return true;
  }

  async findBySub(sub: string): Promise<DirectoryEntry | undefined> {
    return this.bySub.get(sub);
  }

  async managersOf(group: string): Promise<readonly DirectoryEntry[]> {
    return this.byManagedGroup.get(group) ?? [];
  }

  /** Builds new maps and swaps them in, so that a lookup never sees half a directory. */
  private index(entries: readonly DirectoryEntry[]): void {
    const bySub = new Map<string, DirectoryEntry>();
    const byManagedGroup = new Map<string, DirectoryEntry[]>();
    for (const entry of entries) {
      bySub.set(entry.sub, entry);
      for (const group of entry.manages) byManagedGroup.set(group, [...(byManagedGroup.get(group) ?? []), entry]);
    }
    this.bySub = bySub;
    this.byManagedGroup = byManagedGroup;
  }
}

function readDirectoryFile(file: string): DirectoryEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`DIRECTORY_FILE ${file} cannot be read as JSON: ${readFailure(error)}`);
  }
  try {
    return parseDirectory(raw, file);
  } catch (error) {
    throw new Error(`DIRECTORY_FILE ${(error as Error).message}`);
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
