import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { isQuietPath, requestId, requestLogger, requestSerializers, safeUrl } from './request-log';

const req = (headers: Record<string, string>, url = '/') => ({ headers, url }) as unknown as IncomingMessage;

describe('request logging', () => {
  it('keeps a well-formed X-Request-Id and replaces anything else with a new UUID', () => {
    expect(requestId(req({ 'x-request-id': 'abc-123.DEF:7_x' }))).toBe('abc-123.DEF:7_x');
    for (const bad of ['', 'has space', 'line\nbreak', 'x'.repeat(129), '{"json":1}']) {
      expect(requestId(req({ 'x-request-id': bad }))).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(requestId(req({}))).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('masks secret-looking query parameters and keeps the rest as sent', () => {
    expect(safeUrl('/cdn/a.png?w=200&sig=abcdef&exp=99')).toBe('/cdn/a.png?w=200&sig=[redacted]&exp=99');
    expect(safeUrl('/x?access_token=t0k&Password=p&q=caf%C3%A9')).toBe(
      '/x?access_token=[redacted]&Password=[redacted]&q=caf%C3%A9',
    );
    expect(safeUrl('/characters?limit=5')).toBe('/characters?limit=5');
    expect(safeUrl(undefined)).toBe('');
  });

  it('logs no headers and no body, only id, method, safe URL and address', () => {
    const line = requestSerializers.req({
      id: 'r1',
      method: 'GET',
      url: '/a?token=x',
      remoteAddress: '10.0.0.1',
    });
    expect(line).toEqual({ id: 'r1', method: 'GET', url: '/a?token=[redacted]', remoteAddress: '10.0.0.1' });
  });

  it('keeps probes and scrapes out of the request log', () => {
    expect(isQuietPath(req({}, '/health/ready'))).toBe(true);
    expect(isQuietPath(req({}, '/metrics?x=1'))).toBe(true);
    expect(isQuietPath(Object.assign(req({}, '/'), { originalUrl: '/health' }))).toBe(true);
    expect(isQuietPath(req({}, '/healthy-characters'))).toBe(false);
    expect(isQuietPath(req({}, '/characters'))).toBe(false);
  });

  it("gives a request's lines its reqId, and makes the pino child only once a line is written", () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(chunk.toString())), done()) });
    const root = pino({ level: 'info' }, sink);
    const made = jest.spyOn(root, 'child');

    const quiet = requestLogger(root, 'r-quiet');
    quiet.debug('below the level');
    expect(made).not.toHaveBeenCalled();

    const log = requestLogger(root, 'r-1');
    log.info({ a: 1 }, 'first');
    log.warn('second');
    expect(made).toHaveBeenCalledTimes(1);
    log.child({ context: 'X' }).error('third');
    expect(lines.map(({ reqId, msg, a, context }) => ({ reqId, msg, a, context }))).toEqual([
      { reqId: 'r-1', msg: 'first', a: 1, context: undefined },
      { reqId: 'r-1', msg: 'second', a: undefined, context: undefined },
      { reqId: 'r-1', msg: 'third', a: undefined, context: 'X' },
    ]);
    expect(log.level).toBe('info');
    expect(log.isLevelEnabled('debug')).toBe(false);
  });
});
