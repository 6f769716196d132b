import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Controller, Get, Inject, Module, NotFoundException, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';

/**
 * The ceiling: a NestJS 11 Fastify app that answers every path the benchmark asks for with a page it already holds
 * (the very JSON our service answered for that path, parsed once at start). No database, no cache, no auth: what
 * is left is Nest + Fastify + JSON serialization, which it still does on every request.
 *
 * CEILING_PAGES: a JSON file `{ "<path with query>": <body> }`. PORT: where to listen (127.0.0.1 only).
 */
const PAGES = Symbol('CEILING_PAGES');

@Controller()
class CeilingController {
  constructor(@Inject(PAGES) private readonly pages: Map<string, unknown>) {}

  @Get('*')
  page(@Req() request: FastifyRequest): unknown {
    const page = this.pages.get(request.url);
    if (page === undefined) {
      throw new NotFoundException();
    }
    return page;
  }
}

/** The ceiling app over these pages, initialised and not listening (test/bench-systems checks what it answers). */
export async function createCeilingApp(pages: Record<string, unknown>): Promise<NestFastifyApplication> {
  @Module({
    controllers: [CeilingController],
    providers: [{ provide: PAGES, useValue: new Map(Object.entries(pages)) }],
  })
  class CeilingModule {}
  return NestFactory.create<NestFastifyApplication>(CeilingModule, new FastifyAdapter(), {
    logger: ['error'],
    abortOnError: false,
  });
}

async function main(): Promise<void> {
  const pages = JSON.parse(readFileSync(process.env.CEILING_PAGES ?? '', 'utf8')) as Record<string, unknown>;
  const app = await createCeilingApp(pages);
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}

if (require.main === module) {
  void main();
}
