// The GETs of chunks over plain http, without Node's HTTP client: one socket per GET, read
// 1 MiB at a time straight into the buffers handed on (net's `onread`; a small read is
// copied out and its buffer reused), the response head parsed here. Node's client reads
// 64 KiB at a time through its parser into a stream per response: a restore from s3rver
// took 1.9 s per 512 MiB that way, 1.55 s this way (bench/s3.bench.sh). The SDK still builds,
// signs and retries each request and parses the answer; https, and everything that is not a
// bodiless GET, go to the SDK's own handler.
import net from 'node:net';
import { Readable } from 'node:stream';

const READ = 2 ** 20, MAX_HEAD = 64 * 1024;

interface Req { protocol: string; method: string; hostname: string; port?: number; path: string; query?: Record<string, string | string[] | null>; headers: Record<string, string>; body?: unknown }
interface Handler { handle(req: Req, o?: { abortSignal?: AbortSignal }): Promise<{ response: unknown }>; [k: string]: any }

/** The SDK's handler `sdk`, with plain-http GETs taken over. */
export function fastGets(sdk: Handler, connectMs: number): Handler {
  return new Proxy(sdk, {
    get(t, k) {
      if (k !== 'handle') { const v = t[k as string]; return typeof v === 'function' ? v.bind(t) : v; }
      return (req: Req, o: { abortSignal?: AbortSignal } = {}) =>
        req.protocol === 'http:' && req.method === 'GET' && req.body == null ? get(req, connectMs, o.abortSignal) : t.handle(req, o);
    },
  });
}

const esc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function target(req: Req): string {
  const q = Object.entries(req.query ?? {}).flatMap(([k, v]) =>
    v == null ? [esc(k)] : (Array.isArray(v) ? v : [v]).map(x => `${esc(k)}=${esc(x)}`));
  return req.path + (q.length ? `?${q.join('&')}` : '');
}

const netError = (msg: string, code: string) => Object.assign(new Error(msg), { code });

/** Send `req` and resolve with the response once its head is in; the body streams on. */
function get(req: Req, connectMs: number, signal?: AbortSignal): Promise<{ response: unknown }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const lines = [`GET ${target(req)} HTTP/1.1`];
    for (const [k, v] of Object.entries(req.headers)) {
      if (/[\r\n]/.test(k + v)) return reject(new Error(`header '${k}' holds a line break`));
      lines.push(`${k}: ${v}`);
    }
    const host = req.hostname.replace(/^\[(.*)\]$/, '$1');
    let head: Buffer | undefined = Buffer.alloc(0), body: Readable | undefined, left = Infinity, chunked: Chunked | undefined, ended = false, spare: Buffer | undefined;
    const fail = (err: Error) => { sock.destroy(); if (body) body.destroy(err); else reject(err); };
    const sock = net.connect({
      host, port: req.port ?? 80,
      onread: {
        buffer: () => spare ?? Buffer.allocUnsafeSlow(READ),   // asked for after each read
        callback: (n, buf) => {
          const b = (buf as Buffer).subarray(0, n), big = n >= READ / 4;
          spare = big ? undefined : buf as Buffer;
          bytes(big ? b : Buffer.from(b));
          return true;
        },
      },
    });
    const bytes = (b: Buffer): void => {
      if (head) {
        head = Buffer.concat([head, b]);
        const at = head.indexOf('\r\n\r\n');
        if (at < 0) { if (head.length > MAX_HEAD) fail(new Error('the server sent a response head over 64 KiB')); return; }
        const r = parseHead(head.subarray(0, at).toString('latin1'));
        if (!r) { fail(new Error('the server sent a response that is not HTTP/1.1')); return; }
        b = head.subarray(at + 4);
        if (r.statusCode < 200) { head = Buffer.alloc(0); if (b.length) bytes(b); return; }   // 100 Continue: the real head follows
        head = undefined;
        if (/chunked/i.test(r.headers['transfer-encoding'] ?? '')) chunked = new Chunked();
        else if (r.headers['content-length'] !== undefined) {
          left = Number(r.headers['content-length']);
          if (!Number.isSafeInteger(left) || left < 0) { fail(new Error(`the server sent a bad content-length '${r.headers['content-length'].slice(0, 40)}'`)); return; }
        }
        if (r.statusCode === 204 || r.statusCode === 304) left = 0;
        body = new Readable({ objectMode: true, highWaterMark: 4, read: () => { sock.resume(); }, destroy: (e, cb) => { sock.destroy(); cb(e); } });
        resolve({ response: { ...r, body } });
      }
      if (!body || body.destroyed) return;
      let out: Buffer[];
      if (chunked) {
        try { out = chunked.feed(b); } catch (e: any) { fail(e); return; }
      } else {
        if (b.length > left) b = b.subarray(0, left);
        left -= b.length;
        out = b.length ? [b] : [];
      }
      let more = true;
      for (const x of out) more = body.push(x);
      if (chunked?.done || left === 0) { ended = true; body.push(null); sock.destroy(); } else if (!more) sock.pause();
    };
    const connecting = setTimeout(() => fail(Object.assign(new Error(`cannot connect to ${host} within ${connectMs} ms`), { name: 'TimeoutError' })), connectMs);
    sock.setNoDelay(true);
    sock.on('connect', () => { clearTimeout(connecting); sock.write(`${lines.join('\r\n')}\r\nconnection: close\r\n\r\n`, 'latin1'); });
    sock.on('error', fail);
    sock.on('close', () => {
      clearTimeout(connecting);
      if (head) reject(netError('socket hang up', 'ECONNRESET'));
      else if (body && !ended && !body.destroyed) {
        if (left === Infinity && !chunked) { ended = true; body.push(null); }   // no length: the body ends with the connection
        else body.destroy(netError('the connection closed before the end of the object', 'ECONNRESET'));
      }
    });
    signal?.addEventListener('abort', () => fail(signal.reason), { once: true });
  });
}

function parseHead(text: string): { statusCode: number; reason: string; headers: Record<string, string> } | undefined {
  const [status, ...rest] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(status);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const l of rest) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    const k = l.slice(0, i).trim().toLowerCase(), v = l.slice(i + 1).trim();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  return { statusCode: Number(m[1]), reason: m[2] ?? '', headers };
}

/** A decoder of `transfer-encoding: chunked`: bytes in, the body's bytes out (views of
 *  them: what is fed must not be reused). */
export class Chunked {
  done = false;
  private line = '';
  private left = -1;   // bytes of the current chunk still to come; -1: reading a size line, -2: its CRLF

  feed(b: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < b.length && !this.done) {
      if (this.left > 0) {
        const n = Math.min(this.left, b.length - i);
        out.push(b.subarray(i, i + n));   // b is the caller's to give: no read buffer is reused under it
        i += n; this.left -= n;
        if (this.left === 0) this.left = -2;
        continue;
      }
      const nl = b.indexOf(10, i);
      const end = nl < 0 ? b.length : nl + 1;
      this.line += b.toString('latin1', i, end);
      i = end;
      if (nl < 0) { if (this.line.length > 4096) throw new Error('a chunked body has a line over 4 KiB'); continue; }
      const l = this.line.trim();
      this.line = '';
      if (this.left === -2) { if (l) throw new Error('a chunked body lacks the line break after a chunk'); this.left = -1; continue; }
      if (this.left === -3) { if (!l) this.done = true; continue; }   // trailers, until an empty line
      const hex = l.split(';')[0].trim(), size = parseInt(hex, 16);
      if (!/^[0-9a-f]+$/i.test(hex) || !Number.isSafeInteger(size)) throw new Error(`a chunked body has a bad size line '${l.slice(0, 40)}'`);
      this.left = size === 0 ? -3 : size;
    }
    return out;
  }
}
