// Bulk data onto an ssh2 channel, sealed a batch at a time. ssh2's own path makes each 32 KiB
// packet on its own: a buffer allocated, a randomFillSync for its padding, a seal and a socket
// write each, ~30,000 times per GiB, all on the thread that also reads our input. Here one
// write's packets are laid out in one buffer, their padding taken from one random fill, each
// sealed in place by the connection's AES-GCM cipher, and the buffer written to the socket
// once: zb-recv-ssh's CPU per GiB -10%, and its throughput +3 to +6% on a 2-core host
// (bench/ssh.bench.sh, where both ends share the CPUs).
//
// It reaches into ssh2 (pinned in package.json), and goes the fast way only when every part
// is what it expects: the channel open with nothing of ours queued on it, no key exchange
// running and no packets waiting for one, the cipher ssh2's AES-GCM binding and the packet
// writer its plain one (no compression; a bundler may add digits to a class's name).
// Otherwise the bytes take ssh2's own write: slower, never wrong. test/ssh-data.test.ts
// checks both ways byte for byte against a real sshd, through a full window and a key
// exchange, and that the fast way is taken, so an ssh2 upgrade that changes these parts
// fails there rather than going slow unnoticed.
import { randomFillSync } from 'node:crypto';
import type { Writable } from 'node:stream';

const CHANNEL_DATA = 94;   // RFC 4254
const TAG = 16;            // the GCM tag after each packet
const HEAD = 4 + 1 + 9;    // packet length, padding length; type, channel, data length

/** A pool of random padding bytes, refilled when used up (each byte is used once). */
let pad = Buffer.alloc(0), padAt = 0;
function padding(n: number): Buffer {
  if (pad.length - padAt < n) { pad = randomFillSync(Buffer.allocUnsafe(Math.max(64 << 10, n))); padAt = 0; }
  return pad.subarray(padAt, padAt += n);
}

/** RFC 4253 6: at least 4 bytes of padding, the packet (but its length) a multiple of 16. */
function padLength(dataLen: number): number {
  const p = 16 - ((HEAD + dataLen - 4) & 15);
  return p < 4 ? p + 16 : p;
}

export class ChannelWriter {
  /** bytes that went the fast way (the tests read it) */
  sealed = 0;
  constructor(private ch: Writable) {}   // an ssh2 channel (anything else: its own write)

  /** Write b; a promise when the next write must wait for it (the window, or ssh2's queue). */
  write(b: Buffer): void | Promise<void> {
    const c = this.ch as any, out = c.outgoing, proto = c._client?._protocol, cipher = proto?._cipher;
    if (!(this.ch.writableLength === 0 && out?.state === 'open' && proto && proto._kexinit === undefined && !proto._queue?.length
      && /^AESGCMCipherBinding\d*$/.test(cipher?.constructor?.name) && !cipher._dead && typeof cipher._instance?.encrypt === 'function'
      && /^PacketWriter\d*$/.test(proto._packetRW?.write?.constructor?.name) && proto._packetRW.write.allocStart === 5
      && Number.isInteger(out.window) && out.packetSize > 0))
      return this.ch.write(b) ? undefined : new Promise(r => this.ch.once('drain', () => r()));
    const n = Math.min(b.length, out.window);
    if (n > 0) this.seal(b.subarray(0, n), out, cipher);
    if (n === b.length) return;
    // the window is used up: ssh2 calls _chunkcb when the remote grants more, as it does
    // for its own write that waits (nothing of its own waits: its queue is empty)
    const rest = b.subarray(n);
    return new Promise<void>((resolve) => {
      c._waitWindow = true; c._chunk = undefined;
      c._chunkcb = () => { c._chunkcb = undefined; resolve(); };
    }).then(() => this.write(rest));
  }

  /** b (at most the window) as CHANNEL_DATA packets of at most packetSize, one socket write. */
  private seal(b: Buffer, out: any, cipher: any): void {
    const size = out.packetSize, count = Math.ceil(b.length / size);
    let total = 0;
    for (let p = 0; p < b.length; p += size) { const dl = Math.min(size, b.length - p); total += HEAD + dl + padLength(dl) + TAG; }
    const all = Buffer.allocUnsafe(total), pads = padding(count * 19);
    let at = 0, pa = 0;
    for (let p = 0; p < b.length; p += size) {
      const dl = Math.min(size, b.length - p), pl = padLength(dl), len = HEAD + dl + pl;
      const pk = all.subarray(at, at + len + TAG);
      pk.writeUInt32BE(len - 4, 0); pk[4] = pl;
      pk[5] = CHANNEL_DATA; pk.writeUInt32BE(out.id, 6); pk.writeUInt32BE(dl, 10);
      b.copy(pk, HEAD, p, p + dl);
      pads.copy(pk, HEAD + dl, pa, pa + pl); pa += pl;
      cipher._instance.encrypt(pk);                    // in place, tag after: ssh2's encrypt()
      cipher.outSeqno = (cipher.outSeqno + 1) >>> 0;   // which also counts the packet
      at += len + TAG;
    }
    out.window -= b.length;
    this.sealed += b.length;
    cipher._onWrite(all);
  }
}
