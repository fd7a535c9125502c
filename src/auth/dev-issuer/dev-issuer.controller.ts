import { readFileSync } from 'node:fs';
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { VoraError } from '../../common/vora-error';
import { GatewayConfig } from '../../config/gateway-config';
import { Public } from '../access.decorator';
import { MODE_SCOPE } from '../modes';
import { DevIssuerKey } from './dev-issuer';
import { DevTokenSigner } from './dev-token-signer';
import { DevTokenIn, DevTokenOut, SampleUser } from './dev-token.dto';

const TOKEN_TTL_S = 3600;
const KNOWN_SCOPES = new Set(Object.values(MODE_SCOPE));

/**
 * Publishes the development issuer's JWKS, so other tools can verify its
 * tokens; and, for the web console, the sample users and a token for one of
 * them: what `npm run token` prints. This module is never loaded with an
 * external issuer, and configuration refuses the development issuer in
 * production, so these routes cannot exist there.
 */
@ApiExcludeController()
@Controller('dev-issuer')
export class DevIssuerController {
  constructor(
    private readonly key: DevIssuerKey,
    private readonly signer: DevTokenSigner,
    private readonly config: GatewayConfig,
  ) {}

  @Public()
  @Get('jwks.json')
  jwks(): { keys: object[] } {
    return { keys: [this.key.publicJwk] };
  }

  /** The accounts of DIRECTORY_FILE, each with the scope of its most capable mode. */
  @Public()
  @Get('users')
  users(): { users: SampleUser[] } {
    return { users: sampleUsers(this.config.directoryFile) };
  }

  @Public()
  @Post('token')
  @HttpCode(200)
  async token(@Body() body: DevTokenIn): Promise<DevTokenOut> {
    const unknown = body.scope.split(' ').filter((scope) => !KNOWN_SCOPES.has(scope));
    if (unknown.length) throw VoraError.badRequest(`unknown scopes: ${unknown.join(', ')}; known: ${[...KNOWN_SCOPES].join(', ')}`);
    const token = await this.signer.sign({ sub: body.sub, scope: body.scope, ttlS: TOKEN_TTL_S });
    return { access_token: token, token_type: 'Bearer', expires_in: TOKEN_TTL_S };
  }
}

/** Read as the sample it is: the directory port has no listing, and a real directory is never enumerated. */
function sampleUsers(file: string): SampleUser[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { users?: Array<Record<string, unknown>> };
  return (raw.users ?? []).map((entry) => {
    const identities = Array.isArray(entry.identities) ? (entry.identities as string[]) : [];
    const manages = Array.isArray(entry.manages) ? entry.manages : [];
    const scope = !identities.length ? MODE_SCOPE.admin : manages.length ? MODE_SCOPE.manager : MODE_SCOPE.user;
    return { sub: String(entry.sub), username: String(entry.username ?? entry.sub), identities, scope };
  });
}
