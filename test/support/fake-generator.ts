import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the fake answers the next jobs: 202, HTTP 500, not at all (until the caller gives up), or a dropped socket. */
export type GeneratorBehaviour = 'accept' | 'error' | 'hang' | 'reset';

export interface ReceivedJob {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The exact bytes received, as text. */
  raw: string;
  body: unknown;
  /** Whether X-Signature is `sha256=<HMAC-SHA256 of raw>` under the shared secret (checked here, independently). */
  signatureValid: boolean;
}

/**
 * A real HTTP server on 127.0.0.1 playing the external image generator. It records every request and checks its
 * signature itself, so the suite does not trust the service's own HMAC code to verify the service's output.
 * A hanging answer is bounded by `maxHangMs` and ends as soon as the client hangs up; `close()` ends everything.
 */
export class FakeGenerator {
  readonly received: ReceivedJob[] = [];
  behaviour: GeneratorBehaviour = 'accept';
  /** Runs before an accepting answer is sent, e.g. to deliver the callback while the service still waits. */
  beforeAnswer?: (job: ReceivedJob) => Promise<void>;
  /** Hanging requests the client abandoned before the fake's bound ran out. */
  abandoned = 0;
  /** Errors thrown while handling (e.g. by `beforeAnswer`); a suite asserts this stays empty. */
  readonly errors: unknown[] = [];

  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server: Server;

  private constructor(
    private readonly secret: string,
    private readonly maxHangMs: number,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.errors.push(error);
        res.destroy();
      });
    });
  }

  static async start(secret: string, options: { maxHangMs?: number } = {}): Promise<FakeGenerator> {
    const fake = new FakeGenerator(secret, options.maxHangMs ?? 10_000);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jobs`;
  }

  /** Forgets what was received and goes back to accepting. */
  reset(): void {
    this.received.length = 0;
    this.behaviour = 'accept';
    this.beforeAnswer = undefined;
    this.abandoned = 0;
    this.errors.length = 0;
  }

  async close(): Promise<void> {
    this.timers.forEach(clearTimeout);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks);
    const job: ReceivedJob = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      raw: raw.toString('utf8'),
      body: parseJson(raw),
      signatureValid: this.signatureMatches(raw, req.headers['x-signature']),
    };
    this.received.push(job);
    switch (this.behaviour) {
      case 'accept':
        await this.beforeAnswer?.(job);
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
        return;
      case 'error':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('generator exploded');
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        this.hang(res);
        return;
    }
  }

  private hang(res: ServerResponse): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      res.writeHead(504).end();
    }, this.maxHangMs);
    this.timers.add(timer);
    res.once('close', () => {
      if (this.timers.delete(timer)) {
        clearTimeout(timer);
        this.abandoned++;
      }
    });
  }

  private signatureMatches(raw: Buffer, header: string | string[] | undefined): boolean {
    const expected = Buffer.from(`sha256=${createHmac('sha256', this.secret).update(raw).digest('hex')}`);
    const given = Buffer.from(typeof header === 'string' ? header : '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Signs a body the way the generator signs its callbacks. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * The path the service hands the generator for a job's callback: the job id and the token that ties a delivery
 * to that job (computed here independently of the service, as the HMAC the README describes).
 */
export function callbackPath(secret: string, jobId: string): string {
  const token = createHmac('sha256', secret).update(`generation-callback:${jobId.toLowerCase()}`).digest('hex');
  return `/webhooks/generations/${jobId}?token=${token}`;
}
