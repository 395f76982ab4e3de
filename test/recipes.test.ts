// Years later, without zb: the standard-tools restores that the man pages print are run
// here as printed (taken from the pages themselves), with PATH holding no zb binary.
import t from 'tap';
import { readFileSync, readdirSync, openSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, pool, tmp, fill, treeSums, ROOT } from './lib/util.js';

const NO_ZB = { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' };   // no dist/bin, no /usr/local/bin

/** The literal block (.Bd -literal … .Ed) of man/PAGE that contains `mark`, as shell text. */
function recipe(page: string, mark: string): string {
  const src = readFileSync(join(ROOT, 'man', page), 'utf8');
  const b = [...src.matchAll(/^\.Bd -literal.*\n([\s\S]*?)^\.Ed$/gm)].map((m) => m[1]).find((x) => x.includes(mark));
  if (!b) throw new Error(`man/${page} has no literal block with '${mark}'`);
  return b.replace(/\\e/g, '\\').replace(/\\&/g, '');
}

/** text with every `from` replaced; the page changing under the test must fail it. */
function swap(text: string, pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`the recipe no longer contains '${from}'`);
    text = text.split(from).join(to);
  }
  return text;
}

async function source(t: Parameters<typeof pool>[0] & Parameters<typeof tmp>[0]) {
  const p = pool(t), d = tmp(t);
  await ok(`zfs create ${p.name}/src`);
  fill(`${p.mnt}/src/random.bin`, 3 << 20);
  fill(`${p.mnt}/src/dir/text.txt`, 1 << 20, true);
  await ok(`zfs snapshot ${p.name}/src@s1`);
  const pub = (await ok(`age-keygen -o ${d}/key 2>&1 | sed -n 's/^Public key: //p'`)).out.trim();
  return { p, d, pub };
}

t.test('zb-stream(5): python3 unframes a stream; age, zstd and zfs receive restore it', async (t) => {
  const { p, d, pub } = await source(t);
  await ok(`zb-send ${p.name}/src@s1 | zb-compress --zstd | zb-encrypt -r ${pub} > ${d}/backup.zb`);
  const script = swap(recipe('zb-stream.5', 'struct.unpack'),
    [['< backup.zb', `< ${d}/backup.zb`], ['-i /root/key.txt', `-i ${d}/key`], ['tank/restored', `${p.name}/restored`]]);
  await ok(script, { env: NO_ZB });
  t.same(treeSums(`${p.mnt}/restored`), treeSums(`${p.mnt}/src`), 'restored files are identical');
  // a cut stream: python3 fails on the short frame and zfs receive gets no whole stream
  await ok(`head -c 2000000 ${d}/backup.zb > ${d}/cut.zb`);
  const r = await sh(script.replace(`${d}/backup.zb`, `${d}/cut.zb`).replace(`${p.name}/restored`, `${p.name}/cut`), { env: NO_ZB });
  t.not(r.code, 0, 'a cut stream fails');
  t.equal((await sh(`zfs list ${p.name}/cut`)).code, 1, 'and nothing was received');
});

t.test('zb-chunk-dir(1): chunk files checked by sha256sum and restored in map order', async (t) => {
  const { p, d, pub } = await source(t);
  await ok(`zb-send ${p.name}/src@s1 | zb-compress --zstd | zb-encrypt -r ${pub} | ` +
    `zb-chunk-dir --dest ${d} --prefix backup1 --chunk-size 1M`);
  const chunks = readdirSync(`${d}/backup1/chunks`);
  t.ok(chunks.length >= 3, `the backup is ${chunks.length} chunks`);
  const script = (to: string) => swap(recipe('zb-chunk-dir.1', 'sha256sum -c'), [
    ['/mnt/usb/backup1', `${d}/backup1`], ['tank/data daily-3', `${p.name}/src s1`],
    ['/tmp/sums', `${d}/sums`], ['/root/key.txt', `${d}/key`], ['tank/by-hand', to]]);
  await ok(script(`${p.name}/restored`), { env: NO_ZB });
  t.same(treeSums(`${p.mnt}/restored`), treeSums(`${p.mnt}/src`), 'restored files are identical');
  // one flipped byte in the second chunk: sha256sum stops the restore before zfs sees a byte
  const f = join(`${d}/backup1/chunks`, chunks.sort()[1]), fd = openSync(f, 'r+');
  const b = Buffer.alloc(1); readSync(fd, b, 0, 1, 1000); writeSync(fd, Buffer.from([b[0] ^ 1]), 0, 1, 1000); closeSync(fd);
  const r = await sh(script(`${p.name}/bad`), { env: NO_ZB });
  t.not(r.code, 0, 'a damaged chunk fails');
  t.match(r.out, `${chunks.sort()[1]}: FAILED`, 'sha256sum names the chunk');
  t.match(r.stderr, /did NOT match/);
  t.equal((await sh(`zfs list ${p.name}/bad`)).code, 1, 'and nothing was received');
});
