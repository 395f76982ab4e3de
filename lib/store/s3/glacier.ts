// The archive tier: the lifecycle rules of this prefix (chunks to GLACIER after N days,
// incomplete multipart uploads aborted after 7), merged with the bucket's other rules; and
// before a restore, RestoreObject for every chunk in GLACIER or DEEP_ARCHIVE, all at once.
import { GetBucketLifecycleConfigurationCommand, HeadObjectCommand, PutBucketLifecycleConfigurationCommand,
  RestoreObjectCommand, type LifecycleRule, type S3Client } from '@aws-sdk/client-s3';
import { ZbError } from '../../errors.js';
import { s3Error, status } from './client.js';

/** Exit status of a restore that waits on the archive tier. */
export const PENDING_STATUS = 3;
const ARCHIVED = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/** Put this prefix's rules (glacierDays 0: remove the transition rule), keeping every other
 *  rule. Returns a warning when the server has no lifecycle support. */
export async function lifecycle(c: S3Client, bucket: string, prefix: string, glacierDays: number): Promise<string | undefined> {
  const gid = `zfsbackup-glacier ${prefix}`, mid = `zfsbackup-multipart ${prefix}`;
  let rules: LifecycleRule[] = [];
  try { rules = (await c.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? []; } catch (e: any) {
    if (e?.name === 'NotImplemented' || status(e) === 501) return `the server has no lifecycle support (NotImplemented): chunks stay in their storage class and incomplete uploads are not expired by the server`;
    if (e?.name !== 'NoSuchLifecycleConfiguration' && status(e) !== 404) throw s3Error(e, `cannot read the lifecycle rules of bucket '${bucket}'`);
  }
  const others = rules.filter(r => r.ID !== gid && r.ID !== mid);
  const ours: LifecycleRule[] = [{ ID: mid, Status: 'Enabled', Filter: { Prefix: `${prefix}/` }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }];
  if (glacierDays > 0) ours.unshift({ ID: gid, Status: 'Enabled', Filter: { Prefix: `${prefix}/chunks/` }, Transitions: [{ Days: glacierDays, StorageClass: 'GLACIER' }] });
  const want = [...others, ...ours];
  const same = (a: LifecycleRule[], b: LifecycleRule[]) => JSON.stringify(a.map(norm).sort()) === JSON.stringify(b.map(norm).sort());
  if (same(rules, want)) return undefined;
  try { await c.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: want } })); } catch (e: any) {
    if (e?.name === 'NotImplemented' || status(e) === 501) return 'the server has no lifecycle support (NotImplemented): no rule was set';
    throw s3Error(e, `cannot set the lifecycle rules of bucket '${bucket}'`);
  }
  return undefined;
}

function norm(r: LifecycleRule): string {
  return JSON.stringify({ i: r.ID, s: r.Status, p: r.Filter?.Prefix ?? (r as any).Prefix, t: r.Transitions?.map(t => [t.Days, t.StorageClass]), a: r.AbortIncompleteMultipartUpload?.DaysAfterInitiation });
}

const HOURS: Record<string, Record<string, string>> = {
  GLACIER: { Expedited: '5 minutes', Standard: '5 hours', Bulk: '12 hours' },
  DEEP_ARCHIVE: { Expedited: '12 hours', Standard: '12 hours', Bulk: '48 hours' },
};

/** Ask for the archived ones of `keys` to be restored; throws (PENDING_STATUS) while any is not readable. */
export async function restoreArchived(c: S3Client, bucket: string, keys: string[], tier: string, days: number): Promise<undefined> {
  const heads = await Promise.all(keys.map(k => c.send(new HeadObjectCommand({ Bucket: bucket, Key: k })).catch((e) => { throw s3Error(e, `cannot check '${k}'`); })));
  const pending: { key: string; cls: string; asked: boolean }[] = [];
  heads.forEach((h, i) => {
    const cls = h.StorageClass ?? 'STANDARD';
    if (!ARCHIVED.has(cls) || /ongoing-request="false"/.test(h.Restore ?? '')) return;
    pending.push({ key: keys[i], cls, asked: /ongoing-request="true"/.test(h.Restore ?? '') });
  });
  if (!pending.length) return undefined;
  await Promise.all(pending.filter(p => !p.asked).map(p => c.send(new RestoreObjectCommand({ Bucket: bucket, Key: p.key,
    RestoreRequest: { Days: days, GlacierJobParameters: { Tier: tier as any } } })).catch((e: any) => {
    if (e?.name !== 'RestoreAlreadyInProgress' && status(e) !== 409) throw s3Error(e, `cannot request the restore of '${p.key}'`);
  })));
  const deep = pending.some(p => p.cls === 'DEEP_ARCHIVE') ? 'DEEP_ARCHIVE' : 'GLACIER';
  throw new ZbError(`${pending.length} of ${keys.length} chunk(s) are in ${deep === 'GLACIER' ? 'GLACIER' : 'GLACIER/DEEP_ARCHIVE'}: restore requested (tier ${tier}, readable for ${days} day(s)); run again in about ${HOURS[deep][tier] ?? 'some hours'}, or give --wait`, PENDING_STATUS);
}
