import { createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that counts the statements one system sends: every simple query (`Q`) and
 * every execution of an extended-protocol statement (`E`), read from the frontend's message stream (one type
 * byte and a 4-byte length per message, after an untyped startup packet). Each system under test gets its own
 * proxy, so its count is exact and nothing else on the database (autovacuum, the other systems) leaks into it.
 */
export class PgCountProxy {
  statements = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  private constructor(targetHost: string, targetPort: number) {
    this.server = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(targetPort, targetHost);
      upstream.setNoDelay(true);
      client.setNoDelay(true);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      const counter = new FrontendStream((type) => {
        if (type === 0x51 /* Q */ || type === 0x45 /* E */) {
          this.statements++;
        }
      });
      client.on('data', (chunk: Buffer) => {
        counter.push(chunk);
        upstream.write(chunk);
      });
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  static async start(targetHost: string, targetPort: number): Promise<PgCountProxy> {
    const proxy = new PgCountProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  async stop(): Promise<void> {
    this.sockets.forEach((s) => s.destroy());
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/**
 * Splits the frontend's byte stream into messages without copying them. The first packet has no type byte; when
 * it is an SSL or GSS encryption request (8 bytes), the startup packet that follows has none either.
 */
export class FrontendStream {
  private header = Buffer.alloc(5);
  private headerBytes = 0;
  private skip = 0;
  private startup = true;

  constructor(private readonly onMessage: (type: number) => void) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const need = (this.startup ? 4 : 5) - this.headerBytes;
      const n = Math.min(need, chunk.length - at);
      chunk.copy(this.header, this.headerBytes, at, at + n);
      this.headerBytes += n;
      at += n;
      if (this.headerBytes < (this.startup ? 4 : 5)) {
        return;
      }
      if (this.startup) {
        const length = this.header.readUInt32BE(0);
        this.skip = length - 4;
        // An SSL or GSS encryption request (8 bytes) is followed by the real startup packet, also untyped.
        this.startup = length === 8;
      } else {
        this.onMessage(this.header[0]);
        this.skip = this.header.readUInt32BE(1) - 4;
      }
      this.headerBytes = 0;
    }
  }
}
