// The records of a zfs send stream that we read: the BEGIN record (magic, guids,
// creation, whether it is a compound -R stream) and the END record. Byte order is the
// sender's: both are tried.
import type { Meta } from './zb.js';

export const ZFS_MAGIC = 0x2f5bacbacn;  // DMU_BACKUP_MAGIC at offset 8 of a zfs send stream
export const RECORD = 312;               // sizeof(dmu_replay_record_t)
const DRR_END = 5;

/** Whether b begins like a zfs send stream (its first 16 bytes suffice). */
export function isZfsStream(b: Buffer): boolean {
  if (b.length < 16) return false;
  return b.readBigUInt64LE(8) === ZFS_MAGIC || b.readBigUInt64BE(8) === ZFS_MAGIC;
}

/** Whether a stream's last RECORD bytes are an END record. */
export function isEndRecord(tail: Buffer): boolean {
  return tail.length === RECORD && (tail.readUInt32LE(0) === DRR_END || tail.readUInt32BE(0) === DRR_END);
}

/** guid, creation and base of a plain zfs send stream, from its BEGIN record. */
export function zfsBegin(b: Buffer): Partial<Meta> | undefined {
  if (b.length < 56 || !isZfsStream(b)) return undefined;
  const le = b.readBigUInt64LE(8) === ZFS_MAGIC;
  const u64 = (o: number) => le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
  const to = u64(40), from = u64(48), compound = (u64(16) & 3n) === 2n;
  return { ...(to ? { guid: String(to) } : {}), creation: Number(u64(24)),
    base: from ? { name: '', guid: String(from) } : null, ...(compound ? { recursive: true } : {}) };
}
