import { Injectable } from '@nestjs/common';
import { Caller } from '../auth/caller';
import { VoraError } from '../common/vora-error';
import { Directory } from './directory';

/** Which identities a caller may use, per mode (SPEC section 1). */
@Injectable()
export class IdentityService {
  constructor(private readonly directory: Directory) {}

  async identitiesOf(caller: Caller): Promise<string[]> {
    const entry = await this.directory.findBySub(caller.sub);
    if (caller.mode === 'admin') return [entry?.username ?? caller.username ?? caller.sub];
    if (!entry) throw VoraError.notFound(`no VORA account is registered for user "${caller.sub}"`);
    if (caller.mode === 'ott') return entry.fixedNumber ? [entry.fixedNumber] : [];
    return [...entry.identities];
  }

  /** Throws 403 unless the identity is one of the caller's (404 for unknown callers). */
  async assertOwns(caller: Caller, identity: string): Promise<void> {
    const own = await this.identitiesOf(caller);
    if (!own.includes(identity)) {
      throw VoraError.forbidden(`identity ${identity} is not assigned to this account`);
    }
  }
}
