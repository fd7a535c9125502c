/**
 * Prints an access token from the development issuer, which the gateway
 * trusts when no AUTH_ISSUER is configured:
 *
 *   npm run token -- --sub alice --scope vora:user [--ttl 3600] [--username alice]
 *
 * It reads the same key (DEV_KEY_DIR, default .data) and audience
 * (AUTH_AUDIENCE, default vora-gateway) as the gateway.
 */
import { parseArgs } from 'node:util';
import { DevIssuerKey } from '../src/auth/dev-issuer/dev-issuer';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      scope: { type: 'string', default: 'vora:user' },
      ttl: { type: 'string', default: '3600' },
      username: { type: 'string' },
    },
  });
  if (!values.sub) {
    console.error('usage: npm run token -- --sub <sub> [--scope "vora:user"] [--ttl seconds] [--username name]');
    process.exit(2);
  }
  const key = await DevIssuerKey.loadOrCreate(process.env.DEV_KEY_DIR ?? '.data');
  const token = await key.sign({
    sub: values.sub,
    scope: values.scope!,
    audience: process.env.AUTH_AUDIENCE || 'vora-gateway',
    ttlS: Number(values.ttl),
    username: values.username,
  });
  process.stdout.write(`${token}\n`);
}

void main();
