// The decompressor a remote host runs before its zfs receive (-C over ssh): the command of
// each algorithm zb-compress writes (its payload is the CLI's own format).
import type { SshZfs } from './remote.js';

const CMDS: Record<string, string[][]> = {
  gzip: [['gzip', '-dc']], pigz: [['pigz', '-dc'], ['gzip', '-dc']], zstd: [['zstd', '-dcq']],
  lz4: [['lz4', '-dcq']], xz: [['xz', '-dc']],
};

/** The command that decompresses alg on host, or undefined when it has none (probed once per program). */
export async function remoteDecompressor(host: SshZfs, alg: string): Promise<string[] | undefined> {
  for (const c of CMDS[alg] ?? []) if (await host.has(c[0])) return c;
  return undefined;
}
