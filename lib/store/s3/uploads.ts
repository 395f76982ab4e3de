// Multipart uploads under a prefix: listed (every page) and aborted by a predicate on the
// key and the time it was initiated.
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Error, status } from './client.js';

/** Abort the incomplete multipart uploads under BASE/chunks/ that `which` picks; their count. */
export async function abortUploads(c: S3Client, bucket: string, base: string, which: (key: string, initiated: Date | undefined) => boolean): Promise<number> {
  let keyMarker: string | undefined, idMarker: string | undefined, n = 0;
  for (;;) {
    let page;
    try {
      page = await c.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${base}chunks/`, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
    } catch (e: any) {
      if (e?.name === 'NotImplemented' || status(e) === 501) return n;   // s3rver: no listing (nor anything to list: Complete is atomic there)
      throw s3Error(e, `cannot list the multipart uploads under 's3://${bucket}/${base}chunks/'`); }
    for (const u of page.Uploads ?? []) {
      if (!u.Key || !u.UploadId || !which(u.Key, u.Initiated)) continue;
      await c.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }))
        .catch((e) => { if ((e as any)?.name !== 'NoSuchUpload') throw s3Error(e, `cannot abort the upload of '${u.Key}'`); });
      n++;
    }
    if (!page.IsTruncated) return n;
    keyMarker = page.NextKeyMarker; idMarker = page.NextUploadIdMarker;
  }
}
