import fastifyMultipart from '@fastify/multipart';
import Fastify, { FastifyInstance, FastifyPluginCallback } from 'fastify';
import { multipartForUploads } from './multipart-plugin';

const BOUNDARY = '----cards-test-boundary';

function multipartBody(fields: { name: string; filename?: string; content: string }[]): Buffer {
  const parts = fields.map(({ name, filename, content }) =>
    [
      `--${BOUNDARY}`,
      `Content-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}`,
      ...(filename ? ['Content-Type: application/octet-stream'] : []),
      '',
      content,
    ].join('\r\n'),
  );
  return Buffer.from(`${parts.join('\r\n')}\r\n--${BOUNDARY}--\r\n`);
}

async function appWith(plugin: FastifyPluginCallback<{ limits?: { fileSize?: number } }>): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(plugin, { limits: { fileSize: 1_000 } });
  app.get('/read', async () => ({ ok: true }));
  app.post('/upload', async (request) => {
    const seen: Record<string, number | string> = {};
    for await (const part of request.parts()) {
      seen[part.fieldname] = part.type === 'file' ? (await part.toBuffer()).length : String(part.value);
    }
    return { multipart: request.isMultipart(), seen };
  });
  app.post('/to-disk', async (request) => {
    await request.saveRequestFiles();
    return {};
  });
  await app.ready();
  return app;
}

/** The hooks Fastify runs for a route, as `printRoutes` lists them (global hooks included). */
const hooksOf = (app: FastifyInstance): string => app.printRoutes({ includeHooks: true, commonPrefix: false });

describe('multipartForUploads', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = await appWith(multipartForUploads);
  });

  afterAll(() => app.close());

  it('adds no hook to every request, where the plugin itself adds an async onRequest and onResponse', async () => {
    const plain = await appWith(fastifyMultipart);
    try {
      expect(hooksOf(plain)).toMatch(/onRequest/);
      expect(hooksOf(plain)).toMatch(/onResponse/);
    } finally {
      await plain.close();
    }
    expect(hooksOf(app)).not.toMatch(/onRequest|onResponse/);
    expect((await app.inject({ method: 'GET', url: '/read' })).json()).toEqual({ ok: true });
  });

  it('still parses uploads: files, fields and the file size limit', async () => {
    const headers = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
    const ok = await app.inject({
      method: 'POST',
      url: '/upload',
      headers,
      payload: multipartBody([
        { name: 'file', filename: 'a.png', content: 'x'.repeat(500) },
        { name: 'nsfw', content: 'true' },
      ]),
    });
    expect(ok.json()).toEqual({ multipart: true, seen: { file: 500, nsfw: 'true' } });

    const tooLarge = await app.inject({
      method: 'POST',
      url: '/upload',
      headers,
      payload: multipartBody([{ name: 'file', filename: 'a.png', content: 'x'.repeat(5_000) }]),
    });
    expect(tooLarge.statusCode).toBe(413);
  });

  it('refuses disk mode, whose temp files nothing would clean up', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/to-disk',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      payload: multipartBody([{ name: 'file', filename: 'a.png', content: 'x' }]),
    });
    expect(response.statusCode).toBe(500);
    expect(response.json().message).toMatch(/saveRequestFiles is not available/);
  });
});
