// Test fixtures in the zb stream format, written and read here independently of
// lib/stream/zb.ts (so the tests check the format, not the code against itself):
// "ZBSTREAM", u32be version 1, u32be header length, JSON; frames u32be length +
// bytes; end frame u32be 0 + u64be payload length.

/** A zb stream carrying payload in frames of at most `frame` bytes (one frame: frame >= payload). */
export function zbWrap(payload: Buffer, meta: Record<string, unknown> = {}, frame = 1 << 20): Buffer {
  const json = Buffer.from(JSON.stringify({ filters: [], ...meta }));
  const head = Buffer.alloc(16);
  head.write('ZBSTREAM', 0, 'latin1');
  head.writeUInt32BE(1, 8);
  head.writeUInt32BE(json.length, 12);
  const parts = [head, json];
  for (let i = 0; i < payload.length; i += frame) {
    const len = Buffer.alloc(4);
    const p = payload.subarray(i, i + frame);
    len.writeUInt32BE(p.length);
    parts.push(len, p);
  }
  const end = Buffer.alloc(12);
  end.writeBigUInt64BE(BigInt(payload.length), 4);
  parts.push(end);
  return Buffer.concat(parts);
}

export interface Parsed { meta: any; payload: Buffer; ended: boolean; frames: number }

/** Parse a zb stream; `ended` tells whether a correct end frame closed it. Throws if it is not one. */
export function zbParse(b: Buffer): Parsed {
  if (b.subarray(0, 8).toString('latin1') !== 'ZBSTREAM') throw new Error('not a zb stream');
  const hlen = b.readUInt32BE(12);
  const meta = JSON.parse(b.subarray(16, 16 + hlen).toString('utf8'));
  const parts: Buffer[] = [];
  let i = 16 + hlen, frames = 0, total = 0;
  while (i + 4 <= b.length) {
    const len = b.readUInt32BE(i);
    if (len === 0) {
      const ended = i + 12 === b.length && Number(b.readBigUInt64BE(i + 4)) === total;
      return { meta, payload: Buffer.concat(parts), ended, frames };
    }
    parts.push(b.subarray(i + 4, Math.min(b.length, i + 4 + len)));
    total += len; frames++; i += 4 + len;
  }
  return { meta, payload: Buffer.concat(parts), ended: false, frames };
}
