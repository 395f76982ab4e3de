// The examples of the README and of every man page's EXAMPLES section, run verbatim, in
// order, in the world they assume (test/examples-sandbox.sh: pools tank and backup, hosts
// nas and rgw, /mnt/usb, keys in /root), each page (or README block) in a fresh one.
// Then every dataset an example received is checked: its snapshots carry the guids of
// tank/data's, and a copy of the newest one has tank/data's files.
// The only changes to what the docs say: a cron.d line runs as cron runs it (the time and
// user fields dropped, cron's environment), with /usr/local/bin standing for dist/bin.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, treeSums, ROOT } from './lib/util.js';

interface Unit { name: string; text: string; mode: 'shell' | 'cron' }

const isCron = (lines: string[]) => lines.filter(l => l.trim() && !l.startsWith('#'))
  .every(l => /^([\d*]\S*\s+){5}root\s/.test(l) || /^[A-Z_]+=/.test(l));

/** A man page's EXAMPLES: .Dl lines and .Bd -literal blocks, roff escapes undone, as one
 *  unit; a block of cron.d lines is a unit of its own. */
function manExamples(page: string): Unit[] {
  const src = readFileSync(join(ROOT, 'man', page), 'utf8');
  const at = src.indexOf('\n.Sh EXAMPLES\n');
  if (at < 0) return [];
  const sec = src.slice(at + 14, src.indexOf('\n.Sh ', at + 14) >>> 0).split('\n');
  const unesc = (l: string) => l.replace(/\\e/g, '\\').replace(/\\-/g, '-').replace(/\\&/g, '');
  const shell: string[] = [], units: Unit[] = [];
  let block: string[] | null = null;
  for (const l of sec) {
    if (l.startsWith('.Bd -literal')) block = [];
    else if (l === '.Ed' && block) {
      if (isCron(block)) units.push({ name: `${page} EXAMPLES: cron`, text: block.join('\n'), mode: 'cron' });
      else shell.push(...block);
      block = null;
    } else if (block) block.push(unesc(l));
    else if (l.startsWith('.Dl ')) shell.push(unesc(l.slice(4)));
  }
  return [...(shell.length ? [{ name: `${page} EXAMPLES`, text: shell.join('\n'), mode: 'shell' as const }] : []), ...units];
}

/** The README's example blocks: indented blocks of zb/zfsbackup commands (a block of `# `
 *  groups is one unit per group); a block of cron.d lines runs as cron would. */
function readmeExamples(): Unit[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const blocks: string[][] = [];
  let cur: string[] | null = null;
  for (const l of lines) {
    if (l.startsWith('    ')) (cur ??= (blocks.push([]), blocks.at(-1)!)).push(l.slice(4));
    else if (l.trim() === '' && cur) cur.push('');
    else cur = null;
  }
  const units: Unit[] = [];
  for (const b of blocks) {
    const cmds = b.filter(l => l.trim() && !l.startsWith('#'));
    const cron = isCron(b);
    if (!cron && !cmds.every(l => /^(zb-|zfsbackup )/.test(l) && !l.includes('[COMMON]'))) continue;
    if (cron) { units.push({ name: `README: ${b[0]}`, text: b.join('\n'), mode: 'cron' }); continue; }
    let group: string[] = [];
    const flush = () => { if (group.some(l => l.trim() && !l.startsWith('#'))) units.push({ name: `README: ${group.find(l => l.trim())}`, text: group.join('\n'), mode: 'shell' }); group = []; };
    for (const l of b) { if (l.startsWith('# ')) flush(); group.push(l); }
    flush();
  }
  return units;
}

const all: Unit[] = [...readmeExamples(),
  ...readdirSync(join(ROOT, 'man')).sort().flatMap(manExamples)];
const only = process.env.ZB_EXAMPLES;   // by hand: only the units whose name contains this
const units = only ? all.filter(u => u.name.includes(only)) : all;
t.setTimeout(30 * 60_000);   // some 20 units, each a fresh world: longer than a file's default

const zfsLines = async (cmd: string) => (await ok(cmd)).out.trim().split('\n').filter(Boolean).map(l => l.split('\t'));
const ours = (p: string) => { try { return execFileSync('zpool', ['status', p], { encoding: 'utf8', env: { PATH: '/usr/sbin:/sbin:/usr/bin:/bin' } }).includes('/zbt-examples-'); } catch { return null; } };

t.test('the documented examples, run as written', async (t) => {
  for (const p of ['tank', 'backup']) {
    const o = ours(p);
    if (o === false) { t.skip(`a pool named '${p}' exists on this machine: the examples use that name, so they are not run here`); return; }
    if (o) await ok(`zpool destroy -f ${p}`);   // left by an earlier run of this test
  }
  t.ok(all.length >= 15, `${all.length} example units found (README and man pages)`);
  for (const u of units) {
    await t.test(u.name, async (t) => {
      const w = mkdtempSync('/var/tmp/zbt-examples-'), box = join(ROOT, 'test/examples-sandbox.sh');
      t.teardown(async () => { await sh(`bash ${box} clean ${w}`); rmSync(w, { recursive: true, force: true }); });
      writeFileSync(join(w, 'example.sh'), u.text + '\n');
      await ok(`bash ${box} world ${w}`);
      const r = await sh(`unshare -m --propagation shared -n -u bash ${box} run ${w} ${w}/example.sh ${u.mode} ${ROOT}`);
      t.equal(r.code, 0, `exit 0\n--- the example:\n${u.text}\n--- stderr:\n${r.stderr.slice(-3000)}`);
      // what the examples received is a real copy of tank/data
      // guids by zb-list (zfs-fuse's zfs list has no -p: it rounds them, 3.86E)
      const src = new Map((await zfsLines('zb-list -H tank/data')).map(([n, g]) => [g, n.split('@')[1]]));
      const made = (await zfsLines('zfs list -H -o name,mountpoint -r tank backup')).filter(([n]) => n.includes('/') && n !== 'tank/data');
      for (const [ds, mnt] of made) {
        const snaps = (await zfsLines(`zb-list -H ${ds}`)).filter(([n]) => n.startsWith(`${ds}@`));
        if (!snaps.length) continue;   // a parent made on the way
        t.ok(snaps.every(([n, g]) => src.get(g) === n.split('@')[1]), `${ds}: snapshots with tank/data's names and guids (${snaps.map(s => s[0].split('@')[1]).join(', ')})`);
        if (snaps.at(-1)![0].endsWith('@daily-3')) t.same(treeSums(mnt), treeSums(`${w}/mnt/tank/data`), `${ds}: tank/data's files`);
      }
    });
  }
});
