import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/access.decorator';
import { WebAssets } from '../http/web-assets';
import { GatewayConfig } from '../config/gateway-config';
import { EventCatalogue } from '../catalogue/catalogue';
import { buildAsyncApiDocument } from './asyncapi-document';

/** The viewer's files, built by `npm run build:web` from AsyncAPI's standalone React bundle. */
export const ASYNCAPI_ASSETS = ['page.js', 'standalone.js', 'asyncapi.css'] as const;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>VORA Gateway WebSocket (AsyncAPI)</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/asyncapi/asyncapi.css">
</head>
<body>
  <div id="asyncapi" data-document="/asyncapi.json">Loading the AsyncAPI document from <a href="/asyncapi.json">/asyncapi.json</a>…</div>
  <script src="/asyncapi/standalone.js"></script>
  <script src="/asyncapi/page.js"></script>
</body>
</html>
`;

/**
 * The WebSocket protocol as an AsyncAPI 3.0 document, and a page that
 * renders it. Public, like /docs; kept out of the OpenAPI document, which
 * describes the REST API.
 */
@ApiExcludeController()
@Public()
@Controller()
export class AsyncApiController {
  private readonly document: string;
  private readonly assets = WebAssets.load('asyncapi', ASYNCAPI_ASSETS);

  constructor(catalogue: EventCatalogue, config: GatewayConfig) {
    this.document = JSON.stringify(buildAsyncApiDocument(catalogue, { heartbeatIntervalMs: config.ws.heartbeatIntervalMs }));
  }

  @Get('asyncapi.json')
  @Header('content-type', 'application/json; charset=utf-8')
  json(): string {
    return this.document;
  }

  @Get('asyncapi')
  @Header('content-type', 'text/html; charset=utf-8')
  page(): string {
    return PAGE;
  }

  @Get('asyncapi/page.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  pageScript(): Buffer {
    return this.assets.get('page.js').body;
  }

  @Get('asyncapi/standalone.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'public, max-age=3600')
  standalone(): Buffer {
    return this.assets.get('standalone.js').body;
  }

  @Get('asyncapi/asyncapi.css')
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'public, max-age=3600')
  styles(): Buffer {
    return this.assets.get('asyncapi.css').body;
  }
}
