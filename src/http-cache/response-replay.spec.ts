import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { CacheRead, CacheResult, CacheService, Envelope } from '../cache';
import { waitedBeforeFastify } from '../common/http/hand-off';
import { ResponseReplay } from './response-replay';

const URL = '/characters/1';
const READ: CacheRead = { key: 'c:1', namespace: 'characters', l1: true, hash: 'h1' };

function envelope(): Envelope {
  const now = Date.now();
  return { header: { h: 'h1', f: now + 60_000, s: now + 120_000 }, payload: Buffer.from('{"id":1}') } as unknown as Envelope;
}

/** A cache whose two replay reads do what a test says; everything else about it is unused here. */
function cacheWith(sync: () => CacheResult<unknown> | null | undefined, async: () => Promise<CacheResult<unknown> | undefined>) {
  return { peekFreshSync: sync, peekFresh: async, metrics: { get: jest.fn() } } as unknown as CacheService;
}

function exchange(headers: Record<string, string> = {}) {
  const req = { method: 'GET', url: URL, headers } as unknown as IncomingMessage;
  const res = { headersSent: false, destroyed: false, writeHead: jest.fn(), end: jest.fn() };
  return { req, res: res as unknown as ServerResponse & typeof res, next: jest.fn() };
}

function replayOf(cache: CacheService): ResponseReplay {
  const replay = new ResponseReplay(cache);
  replay.remember({ raw: { method: 'GET', headers: {} }, url: URL } as unknown as FastifyRequest, {
    reads: [READ],
    body: 0,
    headers: [],
    route: '/characters/:id',
  });
  return replay;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

/** The replay runs in the server's request listener: nothing it meets may escape there, or answer twice. */
describe('ResponseReplay.handle', () => {
  it('answers an L1 hit itself, with its headers, and tells the edge', () => {
    const answered = jest.fn();
    const replay = replayOf(cacheWith(() => ({ value: undefined, source: 'l1', envelope: envelope() }), jest.fn()));
    replay.connect({ draining: () => false, answered });
    const { req, res, next } = exchange({ 'x-request-id': 'abc-1' });
    replay.handle(req, res, next);
    expect(next).not.toHaveBeenCalled();
    const [status, headers] = res.writeHead.mock.calls[0] as [number, string[]];
    expect(status).toBe(200);
    expect(headers).toEqual(expect.arrayContaining(['x-request-id', 'abc-1', 'etag', '"h1"', 'x-cache', 'HIT-L1', 'content-length', '8']));
    expect(res.end).toHaveBeenCalledWith(Buffer.from('{"id":1}'));
    expect(answered).toHaveBeenCalledWith(req, 'abc-1', '/characters/:id', 200, 'HIT-L1', expect.any(Number));
  });

  it('hands the request to Fastify when a read throws, synchronously or not', async () => {
    const throwing = replayOf(cacheWith(() => { throw new Error('L1 broke'); }, jest.fn()));
    const a = exchange();
    throwing.handle(a.req, a.res, a.next);
    expect(a.next).toHaveBeenCalledTimes(1);
    expect(a.res.writeHead).not.toHaveBeenCalled();

    const rejecting = replayOf(cacheWith(() => undefined, () => Promise.reject(new Error('Redis broke'))));
    const b = exchange();
    rejecting.handle(b.req, b.res, b.next);
    await flush();
    expect(b.next).toHaveBeenCalledTimes(1);
    expect(b.res.writeHead).not.toHaveBeenCalled();
  });

  it('neither answers nor hands on a request whose client left while Redis was read', async () => {
    const replay = replayOf(cacheWith(() => undefined, () => Promise.resolve({ value: undefined, source: 'l2', envelope: envelope() })));
    const { req, res, next } = exchange();
    replay.handle(req, res, next);
    res.destroyed = true;
    await flush();
    expect(next).not.toHaveBeenCalled();
    expect(res.writeHead).not.toHaveBeenCalled();
  });

  it('leaves a draining server to Fastify (which closes the connection), and a changed entry too', () => {
    const replay = replayOf(cacheWith(() => ({ value: undefined, source: 'l1', envelope: envelope() }), jest.fn()));
    replay.connect({ draining: () => true, answered: jest.fn() });
    const a = exchange();
    replay.handle(a.req, a.res, a.next);
    expect(a.next).toHaveBeenCalledTimes(1);

    const changed = replayOf(cacheWith(() => null, jest.fn()));
    const b = exchange();
    changed.handle(b.req, b.res, b.next);
    expect(b.next).toHaveBeenCalledTimes(1);
    expect(b.res.writeHead).not.toHaveBeenCalled();
  });

  it('records how long a request it hands on waited for Redis, for Fastify\'s duration metric and log line', async () => {
    // The entry changed in Redis: found only after a 40 ms read, and then Fastify answers.
    const replay = replayOf(cacheWith(() => undefined, () => new Promise((resolve) => setTimeout(() => resolve(undefined), 40))));
    const { req, res, next } = exchange();
    replay.handle(req, res, next);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(next).toHaveBeenCalledTimes(1);
    expect(waitedBeforeFastify(req)).toBeGreaterThanOrEqual(35);

    const direct = exchange();
    replayOf(cacheWith(() => null, jest.fn())).handle(direct.req, direct.res, direct.next);
    expect(direct.next).toHaveBeenCalledTimes(1);
    expect(waitedBeforeFastify(direct.req)).toBeLessThan(5);
  });
});
