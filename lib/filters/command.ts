// zb-filter: any command over a zb stream's payload (the seed's ZFSBackupFilterCommand).
// The stream header records it as { kind: 'command', alg: NAME } (the name the caller
// gives, never its argv); -d runs the restoring command the caller gives again, and only
// when the stream's last filter is that name.
import { ZbError } from '../errors.js';
import { ZbReader } from '../stream/zb.js';
export { FILTER_NAME } from '../stream/zb.js';
import { throughChild, withDrain } from './child.js';

export interface CommandFilterOptions { name: string; argv: string[]; decode?: boolean }


export async function commandFilter(o: CommandFilterOptions): Promise<void> {
  await withDrain(true, async (w) => {
    const r = await ZbReader.open(0, { plain: 'zfs' });
    if (r.plain) throw new ZbError('input is not a zb stream: a command filter records itself in the zb header (put zb-send before it)');
    let filters = r.meta.filters;
    if (o.decode) {
      const f = filters.at(-1);
      if (!f || f.kind !== 'command' || f.alg !== o.name)
        throw new ZbError(`the stream's last filter is ${f ? `${f.kind} (${f.alg})` : 'none'}, not the command filter '${o.name}'`);
      filters = filters.slice(0, -1);
    } else filters = [...filters, { kind: 'command', alg: o.name }];
    await throughChild(o.argv, r, { ...r.meta, filters }, w);
  });
}
