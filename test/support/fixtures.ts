import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The sample users and numbers every test uses, read from the files the test
 * gateway loads by default (DIRECTORY_FILE and the event catalogue), so that a
 * test names a user rather than repeating a number.
 */
const ROOT = join(__dirname, '..', '..');

interface SampleUser {
  sub: string;
  username: string;
  identities: string[];
  fixedNumber?: string;
  groups: string[];
  manages: string[];
}

export const SAMPLE_DIRECTORY: { users: SampleUser[] } = JSON.parse(readFileSync(join(ROOT, 'config', 'directory.json'), 'utf8'));

/** The event catalogue as shipped, read independently of the gateway. */
export const CATALOGUE: { events: { name: string; target: string; modes: string[] }[] } = JSON.parse(
  readFileSync(join(ROOT, 'config', 'events.json'), 'utf8'),
);

/** The names of the catalogue's events that a caller in `mode` may subscribe to. */
export const eventsOf = (mode: string): string[] => CATALOGUE.events.filter((e) => e.modes.includes(mode)).map((e) => e.name);

function user(sub: string): SampleUser {
  const found = SAMPLE_DIRECTORY.users.find((u) => u.sub === sub);
  if (!found) throw new Error(`the sample directory has no user ${sub}`);
  return found;
}

function identity(sub: string, index: number): string {
  const number = user(sub).identities[index];
  if (!number) throw new Error(`the sample user ${sub} has no identity #${index}`);
  return number;
}

/** alice's mobile number (her first identity); alice is in sales. */
export const ALICE = identity('alice', 0);
/** alice's fixed line (her second identity). */
export const ALICE_FIXED = identity('alice', 1);
/** bob, in sales, with one identity. */
export const BOB = identity('bob', 0);
/** carol, in sales and support, who manages both groups. */
export const CAROL = identity('carol', 0);
export const CAROL_FIXED = identity('carol', 1);
/** dave, in support. */
export const DAVE = identity('dave', 0);
/** oscar, in no group. */
export const OSCAR = identity('oscar', 0);
export const OSCAR_FIXED = identity('oscar', 1);

/** A remote party for call events: a number no sample user has. */
export const REMOTE_PARTY = '+905551112233';

/** A browser origin the test gateways allow (CORS_ORIGINS, WS_ALLOWED_ORIGINS). */
export const ORIGIN = 'https://console.vora.example';
