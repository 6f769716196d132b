import { fastifyMultipart, FastifyMultipartOptions } from '@fastify/multipart';
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';

/** Lifecycle hooks @fastify/multipart adds to every request of the app, not only to uploads (see below). */
const DROPPED_HOOKS = new Set(['onRequest', 'onResponse']);

const noDiskMode = (): never => {
  throw new Error(
    'saveRequestFiles is not available: @fastify/multipart is registered without its temp-file cleanup hooks ' +
      '(multipartForUploads). Read uploads in memory with request.parts(), as readImageUpload does.',
  );
};

/**
 * @fastify/multipart (content-type parser, `isMultipart()`, `parts()`, its limits and errors) without the two
 * hooks it adds to *every* request: an async `onRequest` that listens for the socket closing and an async
 * `onResponse`, both there only to delete the temporary files of `saveRequestFiles` (disk mode). This app reads
 * uploads in memory (`readImageUpload`) and never writes such files, and Nest registers its routes on the root
 * instance, so the hooks cannot be scoped to the upload route. Measured on a replayed 1 KB cache hit (autocannon,
 * 50 connections, server and load generator pinned to their own cores): 33.6–34.5 k req/s with the hooks,
 * 37.4–38.2 k without. `saveRequestFiles` is replaced by an error, so disk mode cannot be used without them.
 */
export const multipartForUploads: FastifyPluginCallback<FastifyMultipartOptions> = fp(
  (instance: FastifyInstance, options: FastifyMultipartOptions, done: (error?: Error) => void) => {
    const withoutCleanup: FastifyInstance = new Proxy(instance, {
      get(target, property) {
        if (property === 'addHook') {
          return (name: string, hook: never) => (DROPPED_HOOKS.has(name) ? withoutCleanup : target.addHook(name as never, hook));
        }
        if (property === 'decorateRequest') {
          return (name: string, value: unknown) =>
            target.decorateRequest(name, name === 'saveRequestFiles' ? noDiskMode : (value as never));
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    fastifyMultipart(withoutCleanup, options, done);
  },
  { fastify: '5.x', name: 'multipart-for-uploads' },
);
