// zb-send and zb-recv through real pipes on zfs-fuse, and the zb stream's guarantees.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, ok, pool, treeSums, fill, tmp } from './lib/util.js';

async function source(t: any) {
  const p = pool(t);
  await ok(`zfs create ${p.name}/data`);
  fill(`${p.mnt}/data/a.bin`, 2 << 20);
  fill(`${p.mnt}/data/t.txt`, 1 << 20, true);
  await ok(`zfs snapshot ${p.name}/data@one`);
  fill(`${p.mnt}/data/b.bin`, 500_000);
  await ok(`zfs snapshot ${p.name}/data@two`);
  return p;
}
const names = async (ds: string) => (await ok(`zb-list -H ${ds}`)).out.split('\n').filter(Boolean).map(l => l.split('\t')[0].split('@')[1]);

t.test('zb-send | zb-recv and zb-send --raw | zfs receive both work', async (t) => {
  const p = await source(t);
  await ok(`zb-send ${p.name}/data | zb-recv ${p.name}/x`);
  t.same(treeSums(`${p.mnt}/x`), treeSums(`${p.mnt}/data`));
  t.same(await names(`${p.name}/x`), ['two'], 'latest snapshot by default');
  await ok(`zb-send --raw ${p.name}/data@one | zfs receive ${p.name}/y`);
  await ok(`zb-send --raw -i one ${p.name}/data@two | zfs receive ${p.name}/y`);
  t.same(treeSums(`${p.mnt}/y`), treeSums(`${p.mnt}/data`));
  t.same(await names(`${p.name}/y`), ['one', 'two']);
  await ok(`zfs send ${p.name}/data@one | zb-recv ${p.name}/z`);
  t.same(await names(`${p.name}/z`), ['one'], 'zb-recv accepts a plain zfs send stream');
  await ok(`zb-send -i @one ${p.name}/data | zb-recv ${p.name}/z`);
  t.same(await names(`${p.name}/z`), ['one', 'two'], 'incremental zb stream');
});

t.test('the header carries guid, createtxg, base and the filter chain', async (t) => {
  const p = await source(t), d = tmp(t);
  await ok(`zb-send -i ${p.name}/data@one ${p.name}/data@two > ${d}/s`);
  const b = readFileSync(`${d}/s`);
  t.equal(b.subarray(0, 8).toString(), 'ZBSTREAM');
  const meta = JSON.parse(b.subarray(16, 16 + b.readUInt32BE(12)).toString());
  const [, guid, txg] = (await ok(`zb-list -H ${p.name}/data`)).out.split('\n')[1].split('\t');
  const baseGuid = (await ok(`zb-list -H ${p.name}/data`)).out.split('\n')[0].split('\t')[1];
  t.match(meta, { dataset: `${p.name}/data`, snapshot: 'two', guid, createtxg: txg, base: { name: 'one', guid: baseGuid }, filters: [] });
  t.type(meta.creation, 'number');
});

t.test('a cut stream never reaches zfs whole: zb-recv fails, no snapshot', async (t) => {
  const p = await source(t), d = tmp(t);
  await ok(`zb-send ${p.name}/data@one > ${d}/s`);
  const full = readFileSync(`${d}/s`);
  for (const cut of [0, 10, 200, full.length >> 1, full.length - 12, full.length - 1]) {
    writeFileSync(join(d, 'c'), full.subarray(0, cut));
    const r = await sh(`zb-recv ${p.name}/cut < ${d}/c`);
    t.equal(r.code, 1, `cut at ${cut}: exit 1`);
    t.match(r.stderr, /^zb-recv: .*(incomplete|empty)/, `cut at ${cut}: says why`);
    t.equal((await sh(`zfs list ${p.name}/cut@one`)).code, 1, `cut at ${cut}: no snapshot`);
  }
  const bad = Buffer.from(full); bad.writeUInt32BE(0xffffffff, bad.length - 12);  // end frame → a huge frame
  writeFileSync(join(d, 'c'), bad);
  const r = await sh(`zb-recv ${p.name}/cut < ${d}/c`);
  t.equal(r.code, 1); t.match(r.stderr, /corrupt stream/);
  t.equal((await sh(`zfs list ${p.name}/cut@one`)).code, 1, 'corrupt end: no snapshot');
  const trailing = Buffer.concat([full, Buffer.from('x')]);
  writeFileSync(join(d, 'c'), trailing);
  t.match((await sh(`zb-recv ${p.name}/cut < ${d}/c`)).stderr, /data after the end frame/);
  await ok(`zb-recv ${p.name}/cut < ${d}/s`);
  t.same(await names(`${p.name}/cut`), ['one'], 'the whole stream is received');
});

t.test('zb-send killed mid-stream (SIGKILL): zb-recv exits non-zero, no new snapshot', async (t) => {
  const p = await source(t);
  fill(`${p.mnt}/data/big.bin`, 6 << 20);
  await ok(`zfs snapshot ${p.name}/data@three`);
  const r = await sh(`set +o pipefail
    zb-send ${p.name}/data@three > >(pv -q -L 1m | zb-recv ${p.name}/k; echo "recv=$?" > ${p.dir}/rc) &
    pid=$!; sleep 1; kill -9 $pid; wait $pid; echo "send=$?"; sleep 0.5
    while ! [ -s ${p.dir}/rc ]; do sleep 0.2; done; cat ${p.dir}/rc`);
  t.match(r.out, /send=137/);
  t.match(r.out, /recv=1/);
  t.equal((await sh(`zfs list ${p.name}/k@three`)).code, 1, 'no snapshot');
});

t.test('a broken pipe is an error: zb-send | head fails with one line', async (t) => {
  const p = await source(t);
  const r = await sh(`zb-send ${p.name}/data | head -c 100 > /dev/null; echo "send=\${PIPESTATUS[0]}"`);
  t.match(r.out, /send=1/);
  t.match(r.stderr, /^zb-send: broken pipe/);
});

t.test('zb-recv refuses a stream that still has filters on it', async (t) => {
  const d = tmp(t);
  const meta = Buffer.from(JSON.stringify({ filters: [{ kind: 'compress', alg: 'zstd' }] }));
  const h = Buffer.alloc(16); h.write('ZBSTREAM'); h.writeUInt32BE(1, 8); h.writeUInt32BE(meta.length, 12);
  writeFileSync(`${d}/s`, Buffer.concat([h, meta, Buffer.alloc(12)]));
  const r = await sh(`zb-recv nowhere/x < ${d}/s`);
  t.equal(r.code, 1);
  t.match(r.stderr, /^zb-recv: stream is compressed \(zstd\): put 'zb-compress -d' before zb-recv/);
  const g = await sh(`echo hello | zb-recv nowhere/x`);
  t.equal(g.code, 1); t.match(g.stderr, /not a zb stream nor a zfs send stream/);
});

t.test('zb-send errors: missing dataset, snapshot, base; usage', async (t) => {
  const p = await source(t);
  const cases: [string, number, RegExp][] = [
    [`zb-send ${p.name}/nope`, 1, /^zb-send: dataset '.*\/nope' does not exist\n$/],
    [`zb-send ${p.name}/data@zz`, 1, /^zb-send: snapshot '.*\/data@zz' does not exist\n$/],
    [`zb-send -i zz ${p.name}/data`, 1, /^zb-send: incremental base '.*\/data@zz' does not exist\n$/],
    [`zb-send -i two ${p.name}/data@one`, 1, /is not older than/],
    [`zb-send -w ${p.name}/data`, 1, /cannot send raw streams|needs OpenZFS/],
    [`zb-send`, 2, /missing DATASET operand\nTry 'zb-send --help'/],
    [`zb-send --nope x`, 2, /unrecognized option '--nope'/],
    [`zb-recv`, 2, /missing FILESYSTEM operand/],
    [`zb-list -x ${p.name}`, 2, /unrecognized option '-x'/],
    [`zb-list ${p.name}/nope`, 1, /^zb-list: dataset '.*\/nope' does not exist\n$/],
  ];
  for (const [cmd, code, re] of cases) {
    const r = await sh(cmd + ' > /dev/null');
    t.equal(r.code, code, cmd); t.match(r.stderr, re, cmd);
  }
});

t.test('zb-list: table, -H, --json, -r', async (t) => {
  const p = await source(t);
  await ok(`zfs create ${p.name}/data/kid && zfs snapshot ${p.name}/data/kid@k`);
  const table = (await ok(`zb-list ${p.name}/data`)).out.split('\n');
  t.match(table[0], /^NAME\s+GUID\s+CREATETXG\s+CREATION$/);
  t.equal(table.filter(Boolean).length, 3);
  const j = JSON.parse((await ok(`zb-list --json -r ${p.name}/data`)).out);
  t.same(j.map((x: any) => x.name), [`${p.name}/data@one`, `${p.name}/data@two`, `${p.name}/data/kid@k`]);
  t.match(j[0].guid, /^\d+$/); t.type(j[0].creation, 'number');
});
