// Every binary: --help, --version, unknown option → exit 2 with "Try '… --help'".
import t from 'tap';
import { join } from 'node:path';
import { sh, ROOT } from './lib/util.js';

const bins = ['zb-send', 'zb-recv', 'zb-recv-ssh', 'zb-compress', 'zb-encrypt', 'zb-count', 'zb-filter', 'zb-chunk-dir', 'zb-chunk-s3', 'zb-list', 'zfsbackup'];

t.test('--help, --version and unknown options on every binary', async (t) => {
  for (const b of bins) {
    const h = await sh(`${b} --help`);
    t.equal(h.code, 0, `${b} --help exits 0`);
    t.match(h.out, new RegExp(`^Usage: ${b} `), `${b} --help starts with Usage`);
    const v = await sh(`${b} --version`);
    t.match(v.out, new RegExp(`^${b} \\d+\\.\\d+\\.\\d+\\n$`), `${b} --version`);
    const u = await sh(`${b} --no-such-option </dev/null`);
    t.equal(u.code, 2, `${b} unknown option exits 2`);
    t.match(u.stderr, new RegExp(`^${b}: unrecognized option '--no-such-option'\\nTry '${b} --help' for more information.\\n$`), `${b} usage message`);
  }
});


t.test('zfsbackup METHOD --help: the method\'s usage, every option it takes, its operations', async (t) => {
  const { methods } = await import(join(ROOT, 'dist/lib/cli/methods.js'));
  for (const [name, m] of Object.entries<any>(methods)) {
    const r = await sh(`zfsbackup --dataset tank/x ${name} --help`);
    t.equal(r.code, 0);
    t.match(r.out, new RegExp(`^Usage: zfsbackup \\[COMMON-OPTION\\]\\.\\.\\. ${name === 'count' ? 'counter' : name}\\b`), `${name}: its own usage`);
    for (const o of [...(m.spec.string ?? []), ...(m.spec.boolean ?? []), ...(m.spec.multi ?? [])]) t.match(r.out, new RegExp(`--${o}\\b`), `${name} --help names --${o}`);
    for (const op of m.operations) t.match(r.out, new RegExp(`\\b${op}\\b`), `${name} --help names ${op}`);
  }
  t.match((await sh('zfsbackup --dataset count --help')).out, /^Usage: zfsbackup \[COMMON-OPTION\]\.\.\. METHOD/, 'a dataset named like a method: the general help');
});
