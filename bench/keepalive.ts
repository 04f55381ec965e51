/**
 * The benchmarks' HTTP client: one keep-alive HTTP/1.1 connection per simulated user, one
 * request at a time on it (a closed loop, as wrk drives a server). A request is one
 * preformatted write; a response is read by its Content-Length (the API answers JSON with one).
 *
 * Why not undici: on these 2-core machines the client shares the CPU with the server and the
 * database. undici's pooling, llhttp parser and body streams cost about 0.45 ms of CPU per
 * checkout in bench:checkout (1.55 → 1.1 ms of process CPU per checkout when replaced), a
 * fifth of what the checkout itself costs: the benchmark measured its own client.
 */
import { connect, type Socket } from 'node:net';

export interface Reply {
  status: number;
  body: string;
}

export class KeepAliveConnection {
  private readonly socket: Socket;
  private readonly host: string;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private closed: Error | null = null;

  constructor(base: URL) {
    this.host = base.host;
    this.socket = connect({ host: base.hostname, port: Number(base.port), noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.parse();
    });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Sends a request (headers as `name: value` lines without CRLF) and resolves with its reply. */
  request(method: 'GET' | 'POST', path: string, headers: string[], body?: string): Promise<Reply> {
    if (this.closed) return Promise.reject(this.closed);
    if (this.waiting) return Promise.reject(new Error('one request at a time per connection'));
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}\r\n`;
    for (const h of headers) head += `${h}\r\n`;
    if (body !== undefined)
      head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(`${head}\r\n${body ?? ''}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(err: Error): void {
    this.closed ??= err;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(err);
  }

  private parse(): void {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const head = this.buf.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.fail(new Error(`response without content-length: ${head}`));
      this.socket.destroy();
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.buf.length < total) return;
    const reply = { status: Number(head.slice(9, 12)), body: this.buf.toString('utf8', end + 4, total) };
    this.buf = this.buf.subarray(total);
    const w = this.waiting;
    this.waiting = null;
    w.resolve(reply);
  }
}
