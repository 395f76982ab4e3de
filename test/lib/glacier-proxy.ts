// A fake archive tier for the Glacier path only (no server here emulates RestoreObject): an
// HTTP proxy in front of s3rver that reports chosen objects as GLACIER or DEEP_ARCHIVE,
// answers their GetObject with InvalidObjectState until a RestoreObject arrived and the test
// says it finished, and records every RestoreObject and every GetObject it sees. It also
// answers the next `slowDown` UploadPart requests with 503 SlowDown (throttling).
import { createServer, request, type Server } from 'node:http';

export interface Proxy {
  url: string;
  /** key (BUCKET/KEY) → its storage class */
  archived: Map<string, string>;
  /** keys whose restore was requested → tier; `done` holds those restored */
  restores: Map<string, string>;
  done: Set<string>;
  requests: string[];
  gets: string[];
  heads: string[];
  /** the HEADs answered: the storage class and restore state they reported are settled */
  answered: string[];
  slowDown: number;
  throttled: number;
  close(): Promise<void>;
}

export function glacierProxy(target: string): Promise<Proxy> {
  const up = new URL(target);
  const p: Proxy = { url: '', archived: new Map(), restores: new Map(), done: new Set(), requests: [], gets: [], heads: [], answered: [], slowDown: 0, throttled: 0, close: async () => {} };
  const srv: Server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x'), key = decodeURIComponent(u.pathname.slice(1)), cls = p.archived.get(key);
    if (req.method === 'HEAD') p.heads.push(key);
    if (req.method === 'PUT' && u.searchParams.has('uploadId') && p.slowDown > 0) {
      p.slowDown--; p.throttled++;
      req.resume();
      req.on('end', () => { res.writeHead(503, { 'content-type': 'application/xml' }); res.end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'); });
      return;
    }
    if (req.method === 'GET' && !u.search.includes('list-type') && key.includes('/chunks/')) p.gets.push(key);
    if (cls && req.method === 'POST' && u.searchParams.has('restore')) {
      let body = '';
      req.on('data', d => { body += d; });
      req.on('end', () => {
        p.requests.push(key);
        if (p.restores.has(key)) { res.writeHead(409); res.end('<Error><Code>RestoreAlreadyInProgress</Code></Error>'); return; }
        p.restores.set(key, /<Tier>(\w+)<\/Tier>/.exec(body)?.[1] ?? '?');
        res.writeHead(202); res.end();
      });
      return;
    }
    if ((cls === 'GLACIER' || cls === 'DEEP_ARCHIVE') && req.method === 'GET' && !p.done.has(key)) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0"?><Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object\'s storage class</Message></Error>');
      return;
    }
    const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      const h = { ...r.headers };
      if (cls) {
        h['x-amz-storage-class'] = cls;
        if (p.restores.has(key)) h['x-amz-restore'] = p.done.has(key) ? 'ongoing-request="false", expiry-date="Fri, 01 Jan 2100 00:00:00 GMT"' : 'ongoing-request="true"';
      }
      res.writeHead(r.statusCode!, h);
      if (req.method === 'HEAD') p.answered.push(key);
      r.pipe(res);
    });
    fwd.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(fwd);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    p.url = `http://127.0.0.1:${(srv.address() as any).port}`;
    p.close = () => new Promise(r => { srv.closeAllConnections(); srv.close(() => r()); });
    resolve(p);
  }));
}
