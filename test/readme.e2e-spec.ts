import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateReadmeBlocks, normalised, readmeBlocks } from '../scripts/readme-output';

/**
 * The README's "real output" blocks against a fresh run of the same commands
 * (scripts/readme-output.ts). When this fails after a change of behaviour,
 * `npm run readme-output -- --write` brings the README up to date.
 */
describe('README real output', () => {
  it('matches a fresh run of its commands, times, tokens and ids aside', async () => {
    const generated = await generateReadmeBlocks();
    const readme = readmeBlocks(readFileSync(join(__dirname, '..', 'README.md'), 'utf8'));
    expect([...readme.keys()].sort()).toEqual([...generated.keys()].sort());
    for (const [name, block] of generated) {
      expect({ name, block: normalised(readme.get(name)!) }).toEqual({ name, block: normalised(block) });
    }
  }, 60_000);
});
