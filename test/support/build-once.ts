import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { buildWeb } from '../../scripts/build-web';

/** Where the compiled gateway for multi-process tests lives (git-ignored). */
export const TEST_BUILD_DIR = join(__dirname, '..', '..', '.data', 'test-build');

/**
 * jest globalSetup: compiles src/ once per test run, so that tests which need
 * real gateway processes (SIGKILL, several instances) start each in about a
 * second instead of compiling TypeScript in every child; and bundles the
 * pages (console, AsyncAPI viewer, the browser build of @vora/client) into
 * dist-web/, which every test gateway serves.
 */
export default async function buildOnce(): Promise<void> {
  const root = join(__dirname, '..', '..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', TEST_BUILD_DIR], {
    cwd: root,
    stdio: 'inherit',
  });
  await buildWeb();
}
