// N MiB of half-compressible data (512 random bytes, 512 text bytes, repeated),
// as a zb stream in 1 MiB frames when argv[3] is 'zb', else plain.
import { randomFillSync } from 'node:crypto';
import { writeSync } from 'node:fs';
const mib = Number(process.argv[2]), zb = process.argv[3] === 'zb';
const pat = Buffer.alloc(64 << 20);
const text = Buffer.from('the quick brown fox jumps over the lazy dog; zfs send | zb-compress 0123456789\n');
for (let i = 0; i < pat.length; i += 1024) {
  randomFillSync(pat, i, 512);
  for (let j = i + 512; j < i + 1024; j += text.length) text.copy(pat, j, 0, Math.min(text.length, i + 1024 - j));
}
const out = (b) => { for (let o = 0; o < b.length;) o += writeSync(1, b, o, b.length - o); };
if (zb) {
  const json = Buffer.from(JSON.stringify({ filters: [], size: mib * 2 ** 20 }));
  const h = Buffer.alloc(16); h.write('ZBSTREAM'); h.writeUInt32BE(1, 8); h.writeUInt32BE(json.length, 12);
  out(h); out(json);
}
const len = Buffer.alloc(4); len.writeUInt32BE(1 << 20);
for (let i = 0; i < mib; i++) { if (zb) out(len); out(pat.subarray((i % 64) << 20, ((i % 64) + 1) << 20)); }
if (zb) { const e = Buffer.alloc(12); e.writeBigUInt64BE(BigInt(mib) << 20n, 4); out(e); }
