/**
 * Reference for the REST benchmark: the framework floor. NestJS on its
 * Fastify adapter with one controller answering what raw-rest-server.ts
 * answers, and nothing else: no guard, pipe, filter, hook or header. The
 * gateway cannot be cheaper per request than this.
 */
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';

const identities = Array.from({ length: Number(process.env.IDENTITIES_PER_USER ?? 2) }, (_, j) => `+9053${String(j).padStart(8, '0')}`);

@Controller()
class BareController {
  @Get('health/liveness')
  @HttpCode(204)
  liveness(): void {}

  @Get('identity')
  identity(): { identities: string[] } {
    return { identities };
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(BareModule, new FastifyAdapter(), { logger: false });
  const shutdown = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  await app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
