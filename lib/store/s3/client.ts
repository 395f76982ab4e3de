// The one owner of the AWS SDK's syntax: a client with bounded timeouts and retries, errors
// as one line, the part-size rules of a multipart chunk. See zb-chunk-s3(1).
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { UsageError, ZbError } from '../../errors.js';
import { fastGets } from './get.js';

export interface S3Options {
  bucket: string;
  /** objects go under PREFIX/ (default: the host name) */
  prefix: string;
  /** endpoint URL of an S3-compatible server (path-style requests) */
  server?: string;
  region?: string;
  /** credentials; absent: the SDK's chain (AWS_* variables, shared file, AWS_PROFILE) */
  key?: string;
  secret?: string;
  profile?: string;
  /** bytes of one part of a multipart chunk (all parts equal but the last) */
  partSize?: number;
  maxParts?: number;
  /** parts of one chunk in flight at once */
  concurrency?: number;
  storageClass?: string;
  /** the lifecycle rule: days before chunks move to GLACIER; 0: no rule (--no-glacier) */
  glacierDays?: number;
  restoreTier?: 'Bulk' | 'Standard' | 'Expedited';
  restoreDays?: number;
  /** seconds a request may stay silent before it is retried (default 30) */
  timeout?: number;
}

export const MiB = 2 ** 20;
/** ms a connection to the server may take */
const CONNECT_MS = 4000;
export const MIN_PART = 5 * MiB, MAX_PART = 5 * 2 ** 30;

/** The part size for chunks of chunkSize: the given one, checked, or the smallest whole
 *  MiB ≥ 8 MiB that keeps a chunk within maxParts. A usage error before anything is sent. */
export function partSize(chunkSize: number, given: number | undefined, maxParts: number): number {
  if (!Number.isSafeInteger(maxParts) || maxParts < 1 || maxParts > 10_000) throw new UsageError(`--max-parts is 1 to 10000, not ${maxParts}`);
  const p = given ?? Math.max(8 * MiB, Math.ceil(chunkSize / maxParts / MiB) * MiB);
  if (p < MIN_PART) throw new UsageError(`--part-size ${p} is under 5 MiB, the smallest part S3 takes`);
  if (p > MAX_PART) throw new UsageError(`--part-size ${p} is over 5 GiB, the largest part S3 takes`);
  if (Math.ceil(chunkSize / p) > maxParts)
    throw new UsageError(`a chunk of ${chunkSize} bytes in parts of ${p} needs ${Math.ceil(chunkSize / p)} parts, over --max-parts ${maxParts}: raise --part-size or lower --chunk-size`);
  return p;
}

/** The client; `quiet`: with no idle timer on its sockets (S3Store.read keeps its own, which
 *  runs only while it waits for the server). */
export function client(o: S3Options, quiet = false): S3Client {
  if (o.profile) process.env.AWS_PROFILE = o.profile;
  // a notice about SDK releases of 2027 on every run is not ours to print
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const c = new S3Client({
    region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(o.server ? { endpoint: o.server, forcePathStyle: true } : {}),
    ...(o.key || o.secret ? { credentials: { accessKeyId: o.key ?? '', secretAccessKey: o.secret ?? '' } } : {}),
    // our sha256 per chunk is the integrity check; the SDK's default CRC32 trailers
    // (aws-chunked) end up inside the object on s3rver, and Ceph answers them 411
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // retries with backoff on throttling and 5xx (the SDK's standard mode); bounded waits
    maxAttempts: 4,
    // socketTimeout is the inactivity bound (requestTimeout, whole-request, only warns here)
    requestHandler: { connectionTimeout: CONNECT_MS, socketTimeout: quiet ? 0 : (o.timeout ?? 30) * 1000 },
  });
  // the reader's GETs over plain http bypass Node's HTTP client (get.ts); the config's
  // handler is read at each send
  if (quiet) (c.config as any).requestHandler = fastGets(c.config.requestHandler as any, CONNECT_MS);
  return c;
}

/** The HTTP status of an SDK error (0: none came back). */
export const status = (e: any): number => e?.$metadata?.httpStatusCode ?? 0;
export const notFound = (e: any) => status(e) === 404 || e?.name === 'NotFound' || e?.name === 'NoSuchKey';

/** An SDK error as one line: what failed, the server's code and message, or the network's. */
export function s3Error(e: any, what: string): ZbError {
  if (e instanceof ZbError) return e;
  const code = e?.Code ?? e?.name, st = status(e);
  let why = e?.message && e.message !== code && e.message !== 'UnknownError' ? `${code}: ${e.message}` : code ?? String(e);
  if (!st && e?.name === 'TimeoutError') why = 'the server does not answer (timed out)';
  else if (!st && /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EPIPE|timeout|socket hang up/i.test(`${e?.code} ${e?.message}`))
    why = `the server does not answer (${e?.code ?? e?.message})`;
  else if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'CredentialsProviderError'].includes(code))
    why = `${code}: the credentials are not accepted (--key/--secret, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the shared credentials file)`;
  return new ZbError(`${what}: ${why}${st ? ` (HTTP ${st})` : ''}`);
}

/** A small object's text and ETag (undefined: there is none). The SDK retries a request, not
 *  a body that breaks off (an object replaced or deleted as it is read): this does, 3 times. */
export async function getText(c: S3Client, bucket: string, key: string): Promise<{ text: string; etag?: string } | undefined> {
  for (let i = 0; ; i++) {
    let r;
    try { r = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key })); } catch (e) { if (notFound(e)) return undefined; throw e; }
    try { return { text: await r.Body!.transformToString('utf8'), etag: r.ETag }; } catch (e) {
      if (i >= 3) throw e;
      await new Promise(res => setTimeout(res, 100 * 2 ** i));
    }
  }
}
