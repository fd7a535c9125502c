/** One account of the directory, keyed by the access token's `sub` (SPEC section 1). */
export interface DirectoryEntry {
  readonly sub: string;
  readonly username: string;
  /** E.164 numbers of the account. */
  readonly identities: readonly string[];
  /** The OneNet fixed number: the only identity of an OTT caller. */
  readonly fixedNumber?: string;
  readonly groups: readonly string[];
  /** Groups whose group events (agent and queue state) this account may receive as a manager. */
  readonly manages: readonly string[];
}

/** Who owns which numbers. The embedded default reads a JSON file. */
export abstract class Directory {
  abstract findBySub(sub: string): Promise<DirectoryEntry | undefined>;
  /** Accounts that manage the group. */
  abstract managersOf(group: string): Promise<readonly DirectoryEntry[]>;
}

export const E164 = /^\+[1-9][0-9]{6,14}$/;
