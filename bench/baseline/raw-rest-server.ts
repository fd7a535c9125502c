/**
 * Baseline for the REST benchmark: raw Fastify routes that answer what the
 * gateway's routes answer (the same JSON, the same status), with nothing in
 * between: no Nest, no guard, no token, no validation.
 */
import Fastify from 'fastify';

/** As many identities as a user of the generated directory owns: the same body the gateway sends for one. */
const identities = Array.from({ length: Number(process.env.IDENTITIES_PER_USER ?? 2) }, (_, j) => `+9053${String(j).padStart(8, '0')}`);
/** 32 random bytes in base64url, as long as the gateway's webSocketToken. */
const webSocketToken = 'x'.repeat(43);

const app = Fastify({ bodyLimit: 16 * 1024 });

app.get('/health/liveness', (_request, reply) => {
  void reply.code(204).send();
});

app.get('/identity', (_request, reply) => {
  void reply.send({ identities });
});

app.post('/identity/setup', (_request, reply) => {
  void reply.send({ webSocketToken });
});

const shutdown = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' }).catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
