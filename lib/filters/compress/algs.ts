// The compression algorithms zb-compress knows: which program runs each, with
// which argv, the levels it takes, and the magic that identifies its plain format.
import { ZbError, UsageError } from '../../errors.js';
import { which } from '../../os/proc.js';

export type Alg = 'gzip' | 'pigz' | 'zstd' | 'lz4' | 'xz';
export const ALGS: Alg[] = ['gzip', 'pigz', 'zstd', 'lz4', 'xz'];

interface AlgInfo {
  bin: string; pkg: string; min: number; max: number; level: number;
  magic: Buffer[];
  compress(level: number, threads?: number): string[];
  decompress(threads?: number): string[];
}

const hex = (s: string) => Buffer.from(s, 'hex');
const GZIP_MAGIC = [hex('1f8b')];

export const INFO: Record<Alg, AlgInfo> = {
  gzip: { bin: 'gzip', pkg: 'gzip', min: 1, max: 9, level: 6, magic: GZIP_MAGIC,
    compress: (l) => ['-c', `-${l}`], decompress: () => ['-d', '-c'] },
  pigz: { bin: 'pigz', pkg: 'pigz', min: 1, max: 9, level: 6, magic: GZIP_MAGIC,
    compress: (l, t) => ['-c', `-${l}`, ...(t ? ['-p', `${t}`] : [])], decompress: () => ['-d', '-c'] },
  zstd: { bin: 'zstd', pkg: 'zstd', min: 1, max: 22, level: 3, magic: [hex('28b52ffd')],
    compress: (l, t) => ['-q', '-c', ...(l > 19 ? ['--ultra'] : []), `-${l}`, `-T${t ?? 0}`],
    decompress: () => ['-q', '-d', '-c'] },
  lz4: { bin: 'lz4', pkg: 'lz4', min: 1, max: 12, level: 1, magic: [hex('04224d18'), hex('02214c18')],
    compress: (l) => ['-q', '-c', `-${l}`], decompress: () => ['-q', '-d', '-c'] },
  xz: { bin: 'xz', pkg: 'xz-utils', min: 0, max: 9, level: 6, magic: [hex('fd377a585a00')],
    compress: (l, t) => ['-q', '-c', `-${l}`, `-T${t ?? 0}`], decompress: (t) => ['-q', '-d', '-c', `-T${t ?? 0}`] },
};

/** The format of plain compressed input, from its first bytes; pigz output is gzip format. */
export function detect(head: Buffer): Alg | undefined {
  return (['gzip', 'zstd', 'lz4', 'xz'] as Alg[])
    .find(a => INFO[a].magic.some(m => head.length >= m.length && head.subarray(0, m.length).equals(m)));
}

/** gzip and pigz write the same format. */
export const family = (a: Alg): Alg => a === 'pigz' ? 'gzip' : a;

export function parseInt10(s: string | undefined, what: string, min: number, max: number): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max)
    throw new UsageError(`invalid ${what} '${s}' (${min}-${max})`);
  return Number(s);
}

/** The program for alg (or --program), checked to exist, or a one-line error saying what to install. */
export function program(alg: Alg, override?: string): string {
  const name = override ?? INFO[alg].bin;
  if (which(name)) return name;
  throw new ZbError(override ? `'${override}' not found or not executable`
    : `'${name}' not found: install the ${INFO[alg].pkg} package`);
}
