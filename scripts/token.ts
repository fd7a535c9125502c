/**
 * Prints an access token from the development issuer, which the gateway
 * trusts when no AUTH_ISSUER is configured:
 *
 *   npm run token -- --sub alice --scope vora:user [--ttl 3600] [--username alice]
 *
 * It reads the same configuration as the gateway (the key in DEV_KEY_DIR,
 * default .data; the audience AUTH_AUDIENCE, default vora-gateway) and signs
 * with the gateway's own development issuer module.
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { openDevIssuer } from '../src/auth/dev-issuer/dev-issuer.module';
import { isDevIssuer } from '../src/config/gateway-config';
import { ConfigError, loadConfig } from '../src/config/load-config';

const USAGE = `usage: npm run token -- --sub <sub> [--scope "vora:user"] [--ttl seconds] [--username name]

Prints an access token of the development issuer (no AUTH_ISSUER), signed with the key
in DEV_KEY_DIR (default .data) for AUTH_AUDIENCE (default vora-gateway): run it where the
gateway runs. Use npm run -s token ... to print the token alone, e.g. TOKEN=$(npm run -s token -- --sub alice).

  --sub       the caller, a "sub" of config/directory.json (alice, bob, carol, dave, oscar, erin)
  --scope     space-separated scopes (default vora:user): vora:user, vora:manager, vora:ott,
              vora:admin, or vora:events:publish for POST /events
  --ttl       lifetime in seconds (default 3600)
  --username  preferred_username claim (default: the sub)`;

function usage(problem: string): never {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        sub: { type: 'string' },
        scope: { type: 'string', default: 'vora:user' },
        ttl: { type: 'string', default: '3600' },
        username: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.sub) return usage('--sub is required');
  const ttlS = Number(values.ttl);
  if (!Number.isInteger(ttlS) || ttlS < 1) return usage(`--ttl must be a whole number of seconds, got "${values.ttl}"`);

  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`cannot print a token: ${error.message}`);
    process.exit(1);
  }
  if (!isDevIssuer(config)) {
    console.error('note: AUTH_ISSUER is set, so a gateway with this environment trusts that issuer, not this token');
  }
  const issuer = await openDevIssuer(config);
  try {
    const token = await issuer.signer.sign({ sub: values.sub, scope: values.scope!, ttlS, username: values.username });
    process.stdout.write(`${token}\n`);
  } finally {
    await issuer.close();
  }
}

void main();
