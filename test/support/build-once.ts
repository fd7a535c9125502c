import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Where the compiled gateway for multi-process tests lives (git-ignored). */
export const TEST_BUILD_DIR = join(__dirname, '..', '..', '.data', 'test-build');

/**
 * jest globalSetup: compiles src/ once per test run, so that tests which need
 * real gateway processes (SIGKILL, several instances) start each in about a
 * second instead of compiling TypeScript in every child.
 */
export default function buildOnce(): void {
  const root = join(__dirname, '..', '..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', TEST_BUILD_DIR], {
    cwd: root,
    stdio: 'inherit',
  });
}
