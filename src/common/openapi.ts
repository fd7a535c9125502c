import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { GatewayConfig } from '../config/gateway-config';

/** Every tag an operation uses, each operation under exactly one. */
const TAGS: ReadonlyArray<[name: string, description: string]> = [
  ['identity', 'The identities an access token may use, opening a session for one of them, and choosing its events.'],
  ['logout', 'Ending the sessions of an identity: their webSocketTokens are revoked and their sockets closed (4000).'],
  ['websocket', 'The event socket opened with the webSocketToken of POST /identity/setup (see `npm run ws` in the README).'],
  ['platform', 'Event ingress from the telephony core, with a `vora:events:publish` token.'],
  ['health', 'Probes for the orchestrator; no token needed.'],
];

function securityDescription(config: GatewayConfig): string {
  const source = config.auth.issuer
    ? `This gateway trusts tokens issued by ${config.auth.issuer}: get one from its token endpoint ` +
      '(the `token_endpoint` of its `/.well-known/openid-configuration`).'
    : 'This gateway runs the development issuer: print a token with ' +
      '`npm run token -- --sub alice --scope vora:user` in the gateway\'s directory ' +
      '(`--scope vora:events:publish` for POST /events). With a real issuer (AUTH_ISSUER), get one from the issuer\'s token endpoint.';
  return (
    'OAuth 2.0 bearer access token: a JWT following RFC 9068 (JWT profile for OAuth 2.0 access tokens), signed with an ' +
    'asymmetric algorithm and checked as RFC 8725 recommends (iss, aud, exp and typ verified; none and HS* refused). ' +
    'Its scope picks the mode: vora:user, vora:manager, vora:ott or vora:admin. ' +
    `${source} Paste the token alone, without "Bearer ".`
  );
}

/** `/docs` (Swagger UI) and `/docs-json`: the seed's document, plus the gateway's own additions. */
export function setUpOpenApi(app: NestFastifyApplication, config: GatewayConfig): void {
  let builder = new DocumentBuilder()
    .setTitle('VORA Rest API')
    .setVersion('0.2')
    .setDescription('VORA Telephony API Platform.')
    .addServer('/', 'This gateway (the origin serving this document)')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: securityDescription(config) }, 'security_auth');
  for (const [name, description] of TAGS) builder = builder.addTag(name, description);

  // Tags come from @ApiTags only: a controller's name would add a second one.
  const document = SwaggerModule.createDocument(app, builder.build(), { autoTagControllers: false });
  // The gateway is not open source (package.json: UNLICENSED); there is no license page to link.
  document.info.license = { name: 'Proprietary' };
  declarePublicOperations(document);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
}

/**
 * Routes deny by default (AccessGuard) and `@Requires` adds the security
 * requirement, so an operation without one is `@Public()`: say so with an
 * empty requirement rather than leaving readers to guess.
 */
function declarePublicOperations(document: OpenAPIObject): void {
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const) {
      const operation = item[method];
      if (operation && !operation.security) operation.security = [];
    }
  }
}
