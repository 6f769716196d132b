import { createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a real server. `cut()` drops every connection and refuses new ones
 * (the server looks down to whoever connects through the proxy); `restore()` lets traffic through again.
 * `blackhole()` makes every open connection go silent without closing it, as when the server's host vanishes
 * without a word; new connections work. It is how a suite makes PostgreSQL or Redis unreachable for one app
 * without touching the machine's own.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<[Socket, Socket]>();
  private open = true;
  private tripwire: { bytes: Buffer; silence: boolean; sprung: () => void } | null = null;
  private readonly server: Server;
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private targetPort: number,
  ) {
    this.server = createServer((client) => {
      if (!this.open) {
        client.destroy();
        return;
      }
      const upstream = new Socket();
      upstream.connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.on('data', (chunk: Buffer) => {
        const wire = this.tripwire;
        if (wire && chunk.includes(wire.bytes)) {
          this.tripwire = null;
          if (wire.silence) {
            silence(client, upstream);
          } else {
            client.destroy();
          }
          wire.sprung();
        }
      });
      client.pipe(upstream).pipe(client);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.on('close', () => (upstream.destroy(), this.pairs.delete(pair)));
      upstream.on('close', () => client.destroy());
    });
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  cut(): void {
    this.open = false;
    this.sockets.forEach((s) => s.destroy());
  }

  restore(): void {
    this.open = true;
  }

  /**
   * New connections go to another port from now on; open ones stay where they are. As when a managed Redis
   * moves its primary endpoint (a DNS name) to the replica it promoted.
   */
  retarget(targetPort: number): void {
    this.targetPort = targetPort;
  }

  /**
   * The next connection to send `text` loses the answer: it is closed (`close`), or goes silent without closing
   * (`silence`, as `blackhole` does). The request may still reach the server; nothing comes back. Resolves when
   * it happened, or rejects after `withinMs`.
   */
  trapNext(text: string, how: 'close' | 'silence', withinMs = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.tripwire = null;
        reject(new Error(`no connection sent ${JSON.stringify(text)} within ${withinMs} ms`));
      }, withinMs);
      const sprung = () => (clearTimeout(timer), resolve());
      this.tripwire = { bytes: Buffer.from(text), silence: how === 'silence', sprung };
    });
  }

  blackhole(): void {
    for (const [client, upstream] of this.pairs) {
      silence(client, upstream);
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Read and drop: nothing goes through, nothing is closed, and neither side sees back-pressure. */
function silence(client: Socket, upstream: Socket): void {
  client.unpipe(upstream);
  upstream.unpipe(client);
  client.on('data', () => undefined);
  upstream.on('data', () => undefined);
}
