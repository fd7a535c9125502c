import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VoraError } from '../common/vora-error';

/**
 * Where `npm run build:web` puts the pages' bundles (the console, the AsyncAPI
 * viewer), relative to the working directory like `config/`: the build and
 * the tests run from the repository root, the image from /app.
 */
export const WEB_ASSETS_DIR = 'dist-web';

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export interface WebAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

/**
 * The built files of one page, read once at start-up. A page that was not
 * built is answered 503 with a message saying how to build it, rather than
 * stopping a gateway whose API works (`nest start --watch` builds no pages).
 */
export class WebAssets {
  private constructor(
    private readonly page: string,
    private readonly files: ReadonlyMap<string, WebAsset>,
    readonly missing: readonly string[],
  ) {}

  static load(page: string, names: readonly string[], root = WEB_ASSETS_DIR): WebAssets {
    const files = new Map<string, WebAsset>();
    const missing: string[] = [];
    for (const name of names) {
      try {
        const extension = name.slice(name.lastIndexOf('.'));
        files.set(name, { body: readFileSync(join(root, page, name)), contentType: TYPES[extension] ?? 'application/octet-stream' });
      } catch {
        missing.push(name);
      }
    }
    return new WebAssets(page, files, missing);
  }

  get(name: string): WebAsset {
    const asset = this.files.get(name);
    if (asset) return asset;
    if (this.missing.includes(name)) {
      throw new VoraError(503, `the ${this.page} page is not built: run npm run build (or npm run build:web)`);
    }
    throw new VoraError(404, `no ${this.page} asset ${name}`);
  }
}
