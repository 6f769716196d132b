import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { sendError } from '../common/errors/all-exceptions.filter';
import { errorBody } from '../common/errors/api-error';
import type { StorageConfig } from '../config';
import { CdnUrlBuilder, IMAGE_VARIANTS } from './cdn-url.builder';

/** Where the app serves the uploads when it stands in for the CDN (the default CDN_BASE_URL points here). */
export const LOCAL_CDN_PREFIX = '/cdn';

/**
 * The app standing in for the CDN (SERVE_LOCAL_CDN: development, the docker-compose stack): the originals at
 * `/cdn/<key>`, and the signed variant URLs every image response carries (`/cdn/v/<variant>/<key>?…&sig=…`),
 * checked as the CDN's image proxy checks them (signature, expiry) and answered with a redirect to the original.
 * Nothing is resized here: that is the image proxy's work, and a browser shows the original at any size.
 */
export function serveUploadsLocally(app: NestFastifyApplication, storage: StorageConfig): void {
  mkdirSync(storage.localDir, { recursive: true });
  app.useStaticAssets({ root: resolve(storage.localDir), prefix: `${LOCAL_CDN_PREFIX}/`, decorateReply: false, index: false });
  const urls = app.get(CdnUrlBuilder);
  app
    .getHttpAdapter()
    .getInstance()
    .get(`${LOCAL_CDN_PREFIX}/v/:variant/*`, (request: FastifyRequest<{ Params: { variant: string } }>, reply: FastifyReply) => {
      const signed = request.url.slice(LOCAL_CDN_PREFIX.length);
      if (!Object.hasOwn(IMAGE_VARIANTS, request.params.variant)) {
        return refuse(reply, 404, 'NOT_FOUND', `no image variant "${request.params.variant}"`);
      }
      if (!urls.verify(signed)) {
        return refuse(reply, 403, 'INVALID_SIGNATURE', 'the variant URL is not signed by this service, or has expired');
      }
      // The key's segments stay encoded as they were signed; static serving decodes them and keeps to the root.
      const keyPath = signed.slice(`/v/${request.params.variant}/`.length).split('?')[0];
      return reply.header('cache-control', 'no-store').redirect(`${LOCAL_CDN_PREFIX}/${keyPath}`, 302);
    });
}

const refuse = (reply: FastifyReply, status: number, code: string, message: string): FastifyReply =>
  sendError(reply, errorBody(status, code, message));
