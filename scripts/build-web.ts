/**
 * Builds the pages the gateway serves into dist-web/ (see src/http/web-assets.ts):
 *
 *   npm run build:web
 *
 * - console/: the web console, bundled with @vora/client from client/src;
 * - asyncapi/: AsyncAPI's standalone React viewer and its styles, copied
 *   from node_modules, and the few lines that render /asyncapi.json with it;
 * - client/: @vora/client as one browser script (global `VoraClientLibrary`),
 *   for pages without a bundler and for the browser tests.
 *
 * Also run by the tests' globalSetup, so that every test gateway has them.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = join(__dirname, '..');

export async function buildWeb(outDir = join(ROOT, 'dist-web')): Promise<void> {
  const viewer = join(ROOT, 'node_modules', '@asyncapi', 'react-component');
  mkdirSync(join(outDir, 'asyncapi'), { recursive: true });
  mkdirSync(join(outDir, 'console'), { recursive: true });
  copyFileSync(join(viewer, 'browser', 'standalone', 'index.js'), join(outDir, 'asyncapi', 'standalone.js'));
  copyFileSync(join(viewer, 'styles', 'default.min.css'), join(outDir, 'asyncapi', 'asyncapi.css'));
  copyFileSync(join(ROOT, 'src', 'console', 'page', 'console.css'), join(outDir, 'console', 'console.css'));
  copyFileSync(join(ROOT, 'src', 'console', 'page', 'console.html'), join(outDir, 'console', 'index.html'));
  const common = { bundle: true, minify: true, sourcemap: false, target: 'es2020', logLevel: 'warning' } as const;
  await Promise.all([
    build({ ...common, entryPoints: [join(ROOT, 'src', 'asyncapi', 'page', 'asyncapi-page.ts')], outfile: join(outDir, 'asyncapi', 'page.js'), format: 'iife' }),
    build({ ...common, entryPoints: [join(ROOT, 'src', 'console', 'page', 'console.ts')], outfile: join(outDir, 'console', 'console.js'), format: 'iife' }),
    build({
      ...common,
      entryPoints: [join(ROOT, 'client', 'src', 'index.ts')],
      outfile: join(outDir, 'client', 'vora-client.js'),
      format: 'iife',
      globalName: 'VoraClientLibrary',
    }),
  ]);
}

if (require.main === module) {
  buildWeb().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
