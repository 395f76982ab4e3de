// Every binary: --help, --version, unknown option → exit 2 with "Try '… --help'".
import t from 'tap';
import { sh } from './lib/util.js';

const bins = ['zb-send', 'zb-recv', 'zb-recv-ssh', 'zb-compress', 'zb-encrypt', 'zb-count', 'zb-chunk-dir', 'zb-chunk-s3', 'zb-list', 'zfsbackup'];

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

