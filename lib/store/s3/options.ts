// The S3 options on a command line (zb-chunk-s3 and the wrapper's s3 method), parsed once.
import { hostname } from 'node:os';
import { UsageError } from '../../errors.js';
import { prog } from '../../cli/command.js';
import { parseSize } from '../../cli/size.js';
import type { Opts } from '../../cli/command.js';
import type { S3Options } from './client.js';

export const S3_STRINGS = ['bucket', 'prefix', 'key', 'secret', 'server', 'region', 'profile', 'part-size', 'max-parts', 'concurrency',
  'storage-class', 'glacier-days', 'restore-tier', 'restore-days', 'timeout'];

const count = (v: string | undefined, what: string, min: number): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${what} takes a whole number of at least ${min}, not '${v}'`);
  return Number(v);
};

/** S3Options from parsed options (mri's glacier: false for --no-glacier). */
export function s3Options(o: Opts, argv: string[]): S3Options {
  if (!o.bucket) throw new UsageError('missing --bucket BUCKET');
  if (o.server !== undefined && !/^https?:\/\/[^/]+/.test(o.server)) throw new UsageError(`--server takes a URL (http://host:port), not '${o.server}'`);
  const tier = o['restore-tier'] ?? 'Bulk';
  if (!['Bulk', 'Standard', 'Expedited'].includes(tier)) throw new UsageError(`--restore-tier is Bulk, Standard or Expedited, not '${tier}'`);
  if (o.secret !== undefined && argv.some(a => a === '--secret' || a.startsWith('--secret=')))
    process.stderr.write(`${prog}: warning: --secret on a command line is shown by ps to every user: use AWS_SECRET_ACCESS_KEY or a credentials file\n`);
  const noGlacier = argv.includes('--no-glacier');
  return {
    bucket: o.bucket, prefix: o.prefix ?? hostname(), server: o.server, region: o.region, profile: o.profile,
    key: o.key, secret: o.secret,
    partSize: o['part-size'] === undefined ? undefined : parseSize(o['part-size'], 'part size'),
    maxParts: count(o['max-parts'], '--max-parts', 1) ?? 10_000,
    concurrency: count(o.concurrency, '--concurrency', 1) ?? 4,
    storageClass: o['storage-class'],
    glacierDays: noGlacier ? 0 : count(o['glacier-days'], '--glacier-days', 1) ?? 1,
    restoreTier: tier, restoreDays: count(o['restore-days'], '--restore-days', 1) ?? 7, timeout: count(o.timeout, '--timeout', 1),
  };
}
