import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './options';

export interface BenchUser {
  readonly sub: string;
  readonly identities: readonly string[];
}

/** The i-th identity of the directory: +9053 and eight digits (E.164, Turkish mobile range). */
export const identityAt = (i: number): string => `+9053${String(i).padStart(8, '0')}`;

/**
 * A directory of `users` users owning `perUser` identities each, written
 * where the gateway reads it (DIRECTORY_FILE), in the shape of SPEC section 1.
 */
export function writeDirectory(users: number, perUser: number): { file: string; users: BenchUser[] } {
  const entries = Array.from({ length: users }, (_, u) => {
    const sub = `bench-${String(u).padStart(5, '0')}`;
    const identities = Array.from({ length: perUser }, (_, j) => identityAt(u * perUser + j));
    return { sub, username: sub, identities, fixedNumber: identities[0], groups: [], manages: [] };
  });
  const dir = join(ROOT, '.data', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `directory-${users}x${perUser}.json`);
  writeFileSync(file, JSON.stringify({ users: entries }));
  return { file, users: entries.map(({ sub, identities }) => ({ sub, identities })) };
}
