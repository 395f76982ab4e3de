// Runs the tap suite and ends with the plain line "N passed, N failed" (one per named test).
import { spawn } from 'node:child_process';
const files = process.argv.slice(2);
const tap = spawn('npx', ['tap', '--reporter=tap', '--jobs=2', ...(files.length ? files : ['test/*.test.ts'])],
  { stdio: ['ignore', 'pipe', 'inherit'] });
let pass = 0, fail = 0, buf = '';
const fileFails = [];
tap.stdout.on('data', (d) => {
  process.stdout.write(d);
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    let m;
    if ((m = /^    (not )?ok \d+ - /.exec(line))) m[1] ? fail++ : pass++;
    else if ((m = /^not ok \d+ - (\S+)/.exec(line))) fileFails.push(m[1]);
  }
});
tap.on('close', (code) => {
  // a file that crashed before its tests ran counts as one failure
  if (code !== 0 && fail === 0) fail = Math.max(1, fileFails.length);
  if (fileFails.length) console.log(`failed files: ${fileFails.join(' ')}`);
  console.log(`${pass} passed, ${fail} failed`);
  process.exit(code ?? 1);
});
