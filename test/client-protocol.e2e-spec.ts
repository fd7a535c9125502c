import { readFileSync } from 'node:fs';
import { CLIENT_PROTOCOL_FILE, renderClientProtocol } from '../scripts/generate-client-protocol';

/** @vora/client's types come from the definitions the gateway and the AsyncAPI document use. */
describe('client/src/protocol.ts', () => {
  it('is what `npm run generate:client` makes of the message schemas, close codes and catalogue', () => {
    const committed = readFileSync(CLIENT_PROTOCOL_FILE, 'utf8');
    // On failure: run `npm run generate:client` and commit client/src/protocol.ts.
    expect(committed).toBe(renderClientProtocol());
  });
});
