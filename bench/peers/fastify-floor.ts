import { readFileSync } from 'node:fs';
import Fastify, { FastifyInstance } from 'fastify';

/**
 * The floor: Fastify alone, with no Nest, answering each path with the page it holds (the same pages as the
 * ceiling), serialized once at start. It is not a system anyone would deploy. It marks the most that the HTTP
 * server and the load generator can do together on this machine, with nothing else in the way. A ratio that
 * would need more than the floor cannot be measured here: the harness or Node's HTTP stack limits it, not the
 * cache.
 *
 * CEILING_PAGES: the ceiling's file of pages, `{ "<path with query>": <body> }`. PORT: where to listen.
 */
export function createFloorApp(pages: Record<string, unknown>): FastifyInstance {
  const bodies = new Map(Object.entries(pages).map(([path, body]) => [path, JSON.stringify(body)]));
  const app = Fastify({ logger: false });
  app.get('/*', (request, reply) => {
    const body = bodies.get(request.url);
    if (body === undefined) {
      return reply.code(404).send({ statusCode: 404, message: 'Not Found' });
    }
    return reply.type('application/json; charset=utf-8').send(body);
  });
  return app;
}

async function main(): Promise<void> {
  const pages = JSON.parse(readFileSync(process.env.CEILING_PAGES ?? '', 'utf8')) as Record<string, unknown>;
  const app = createFloorApp(pages);
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
}

if (require.main === module) {
  void main();
}
