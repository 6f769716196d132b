import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Controller, Get, Module, NotFoundException, Req } from '@nestjs/common';
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
const pages = new Map<string, unknown>(
  Object.entries(JSON.parse(readFileSync(process.env.CEILING_PAGES ?? '', 'utf8')) as Record<string, unknown>),
);

@Controller()
class CeilingController {
  @Get('*')
  page(@Req() request: FastifyRequest): unknown {
    const page = pages.get(request.url);
    if (page === undefined) {
      throw new NotFoundException();
    }
    return page;
  }
}

@Module({ controllers: [CeilingController] })
class CeilingModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(CeilingModule, new FastifyAdapter(), { logger: ['error'] });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}

void main();
