import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TestApp } from './test-app';

/**
 * Sends bytes as they are over a new connection to the app (listening on a free port first if it is not yet) and
 * returns all the server wrote before it closed the connection: for requests no HTTP client would send.
 */
export async function rawExchange(t: TestApp, text: string): Promise<string> {
  const server = t.app.getHttpServer();
  if (!server.listening) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  }
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
  });
}

/** The status, the headers (names in lower case) and the body of a raw answer. */
export function parseRawAnswer(answer: string): { status: number; headers: Map<string, string>; body: string } {
  const end = answer.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = answer.slice(0, end).split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: answer.slice(end + 4) };
}
