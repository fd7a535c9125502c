import { Injectable } from '@nestjs/common';
import { Caller } from '../auth/caller';
import { ClientMode } from '../auth/modes';
import { VoraError } from '../common/vora-error';
import { Directory, DirectoryEntry } from './directory';

/** Which identities a caller may use, per mode (SPEC section 1). */
@Injectable()
export class IdentityService {
  constructor(private readonly directory: Directory) {}

  async identitiesOf(caller: Caller): Promise<string[]> {
    const entry = await this.directory.findBySub(caller.sub);
    if (caller.mode === 'admin') return [entry?.username ?? caller.username ?? caller.sub];
    if (!entry) throw VoraError.notFound(`no VORA account is registered for user "${caller.sub}"`);
    return numbersOf(entry, caller.mode);
  }

  /**
   * Whether a session's owner may still use its identity in its mode: the
   * directory may have moved the number, changed the fixed number or dropped
   * the account since setup. An admin's identity is its directory username,
   * or the token's when it has no entry (the directory cannot take that away).
   */
  async mayStillUse(sub: string, mode: ClientMode, identity: string): Promise<boolean> {
    const entry = await this.directory.findBySub(sub);
    if (mode === 'admin') return identity === (entry?.username ?? identity);
    return !!entry && numbersOf(entry, mode).includes(identity);
  }

  /** Throws 403 unless the identity is one of the caller's (404 for unknown callers). */
  async assertOwns(caller: Caller, identity: string): Promise<void> {
    const own = await this.identitiesOf(caller);
    if (!own.includes(identity)) {
      throw VoraError.forbidden(`identity ${identity} is not assigned to this account`);
    }
  }
}

/** The numbers an account may use in a mode other than admin: OTT only its fixed number. */
function numbersOf(entry: DirectoryEntry, mode: ClientMode | undefined): string[] {
  if (mode === 'ott') return entry.fixedNumber ? [entry.fixedNumber] : [];
  return [...entry.identities];
}
