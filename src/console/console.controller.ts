import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/access.decorator';
import { WebAssets } from '../http/web-assets';

/** The console's files, bundled by `npm run build:web` (src/console/page, with @vora/client). */
export const CONSOLE_ASSETS = ['index.html', 'console.js', 'console.css'] as const;

/**
 * The web console (SPEC section 11): a page built on @vora/client. It holds
 * no secret; what it may do is what the token pasted into it (or minted by
 * the development issuer) allows.
 */
@ApiExcludeController()
@Public()
@Controller('console')
export class ConsoleController {
  private readonly assets = WebAssets.load('console', CONSOLE_ASSETS);

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-cache')
  page(): Buffer {
    return this.assets.get('index.html').body;
  }

  @Get('console.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  script(): Buffer {
    return this.assets.get('console.js').body;
  }

  @Get('console.css')
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'no-cache')
  styles(): Buffer {
    return this.assets.get('console.css').body;
  }
}
