import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, startGateway } from './support/harness';

const ROOT = join(__dirname, '..');
const BIN = join(ROOT, 'node_modules', '.bin');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** TCP connections the tool tried (test/support/no-network.js refuses them). */
  network: string[];
}

/**
 * Runs an installed linter on openapi.json in `dir`, as a reviewer would from
 * the repository root (the configuration files beside it), with no network.
 */
function lint(dir: string, bin: string, args: string[]): Promise<Run> {
  const networkLog = join(dir, `${bin}-network.log`);
  return new Promise((resolve) => {
    execFile(
      join(BIN, bin),
      args,
      {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          NODE_OPTIONS: `--require ${join(__dirname, 'support', 'no-network.js')}`,
          NO_NETWORK_LOG: networkLog,
        },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const network = existsSync(networkLog) ? readFileSync(networkLog, 'utf8').split('\n').filter(Boolean) : [];
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr, network });
      },
    );
  });
}

/** The document a reviewer lints: /docs-json of a gateway with the embedded defaults. */
describe('OpenAPI document under the linters (run offline)', () => {
  let dir: string;

  beforeAll(async () => {
    const gateway = await startGateway({});
    try {
      const document = await http(`${gateway.url}/docs-json`);
      expect(document.status).toBe(200);
      dir = mkdtempSync(join(tmpdir(), 'vora-openapi-lint-'));
      writeFileSync(join(dir, 'openapi.json'), JSON.stringify(document.body, null, 2));
      for (const file of ['redocly.yaml', '.redocly.lint-ignore.yaml', '.spectral.yaml']) copyFileSync(join(ROOT, file), join(dir, file));
    } finally {
      await gateway.close();
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes @redocly/cli lint (recommended ruleset): 0 errors, 0 warnings, only the seed-forced problems ignored', async () => {
    const run = await lint(dir, 'redocly', ['lint', 'openapi.json', '--format=json']);
    expect(run.network).toEqual([]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.problems.filter((p: { ignored?: boolean }) => !p.ignored)).toEqual([]);
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 6 });
  });

  it('passes @stoplight/spectral-cli lint (spectral:oas): no problem of any severity', async () => {
    const run = await lint(dir, 'spectral', ['lint', 'openapi.json', '--format=json', '--output=spectral.json', '--fail-severity=hint']);
    expect(run.network).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, 'spectral.json'), 'utf8'))).toEqual([]);
    expect(run.code).toBe(0);
  });
});
