// Bech32 (BIP 173) as age uses it: no length limit, all-upper or all-lower case,
// checksum over the lowercase string. Encodes age1… recipients and AGE-SECRET-KEY-1… identities.
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i];
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const codes = [...hrp].map(c => c.charCodeAt(0));
  return [...codes.map(c => c >> 5), 0, ...codes.map(c => c & 31)];
}

/** Regroup bits; `pad` for 8→5, strict (no leftover bits) for 5→8. */
function regroup(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0, bits = 0;
  const out: number[] = [], max = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = (acc << from) | data[i]; bits += from;
    while (bits >= to) { bits -= to; out.push((acc >>> bits) & max); }
    acc &= (1 << bits) - 1;
  }
  if (pad) { if (bits) out.push((acc << (to - bits)) & max); }
  else if (bits >= from || acc) return null;
  return out;
}

export function bech32Encode(hrp: string, bytes: Buffer): string {
  const lower = hrp.toLowerCase();
  const data = regroup(bytes, 8, 5, true)!;
  const chk = polymod([...hrpExpand(lower), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  const sum = [0, 1, 2, 3, 4, 5].map(i => (chk >>> (5 * (5 - i))) & 31);
  const s = lower + '1' + [...data, ...sum].map(v => CHARSET[v]).join('');
  return hrp === lower ? s : s.toUpperCase();
}

/** Decode; null when malformed or the checksum fails. The hrp comes back lowercase. */
export function bech32Decode(s: string): { hrp: string; bytes: Buffer } | null {
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) return null;
  const low = s.toLowerCase(), sep = low.lastIndexOf('1');
  if (sep < 1 || low.length - sep - 1 < 6) return null;
  const hrp = low.slice(0, sep);
  if ([...hrp].some(c => c.charCodeAt(0) < 33 || c.charCodeAt(0) > 126)) return null;
  const data: number[] = [];
  for (const c of low.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) return null;
    data.push(v);
  }
  if (polymod([...hrpExpand(hrp), ...data]) !== 1) return null;
  const bytes = regroup(data.slice(0, -6), 5, 8, false);
  return bytes ? { hrp, bytes: Buffer.from(bytes) } : null;
}
