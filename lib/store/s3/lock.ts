// The writer lock of an S3 store: PREFIX/map.json.lock, an object holding owner (host, pid,
// nonce) and an expiry that the holder renews every 30 s. Taken with PutObject
// If-None-Match: * (a compare-and-swap where the server honours it); on servers that ignore
// the condition, after a HEAD found none, by reading the lock back after a pause: the
// writer whose nonce is there holds it. A lock past its expiry, or of a dead pid of this
// host, is taken over. The map's own PutObject is conditional too (s3.ts).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ZbError } from '../../errors.js';
import { alive } from '../../os/proc.js';
import { getText, s3Error, status } from './client.js';

interface Held { host: string; pid: number; nonce: string; expires: string }
const TTL_MS = 120_000, RENEW_MS = 30_000, SETTLE_MS = 300;
const pause = (ms: number) => new Promise(r => setTimeout(r, ms));

async function readLock(c: S3Client, bucket: string, key: string): Promise<Held | null | undefined> {
  let got;
  try { got = await getText(c, bucket, key); } catch (e) { throw s3Error(e, `cannot read the lock 's3://${bucket}/${key}'`); }
  if (!got) return undefined;
  try { const l = JSON.parse(got.text); return typeof l?.nonce === 'string' ? l : null; } catch { return null; }
}

export async function lock(c: S3Client, bucket: string, key: string, waitSec: number): Promise<() => Promise<void>> {
  const me: Held = { host: hostname(), pid: process.pid, nonce: randomBytes(8).toString('hex'), expires: '' };
  const put = (cond: boolean) => {
    me.expires = new Date(Date.now() + TTL_MS).toISOString();
    return c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(me) + '\n', ...(cond ? { IfNoneMatch: '*' } : {}) }));
  };
  const deadline = Date.now() + waitSec * 1000;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    let held = await readLock(c, bucket, key);
    if (held === undefined) {
      try { await put(true); } catch (e) {
        if (status(e) !== 412 && status(e) !== 409) throw s3Error(e, `cannot create the lock 's3://${bucket}/${key}'`);
      }
      await pause(SETTLE_MS);
      held = await readLock(c, bucket, key);
      if (held?.nonce === me.nonce) break;
    } else {
      const stale = held === null || Date.parse(held.expires) < Date.now() || (held.host === me.host && !alive(held.pid));
      if (stale) { await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {}); continue; }
    }
    if (Date.now() >= deadline) {
      const who = held ? `pid ${held.pid} on host '${held.host}' (until ${held.expires})` : 'an unreadable lock object';
      throw new ZbError(`'s3://${bucket}/${key}' is held by ${who}; waited ${waitSec} s (--lock-wait)`);
    }
    await pause(delay + Math.random() * delay);
  }
  const renew = setInterval(() => { put(false).catch(() => {}); }, RENEW_MS);
  renew.unref();
  return async () => {
    clearInterval(renew);
    const l = await readLock(c, bucket, key).catch(() => undefined);
    if (l?.nonce === me.nonce) await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
  };
}
