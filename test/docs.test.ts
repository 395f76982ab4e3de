// The documentation says what the code does: every option a binary's --help lists (its
// left column) is in its man page, and every option a man page lists (.It Fl …) is in
// --help. Every binary has a man page; every man page passes mandoc -Tlint.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from './lib/util.js';

const BINS = /^BINS = (.*)$/m.exec(readFileSync(join(ROOT, 'Makefile'), 'utf8'))![1].trim().split(/\s+/);
const page = (b: string) => [1, 8].map(s => join(ROOT, 'man', `${b}.${s}`)).find(existsSync);
const MACRO = /^[A-Z][a-z]{1,2}$/;

/** The options of --help's option list: lines indented less than 8 (descriptions are deeper). */
function helpOptions(help: string): Set<string> {
  const s = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^ {1,7}(-\S.*?)(\s{2,}|$)/.exec(line);
    if (m) for (const o of m[1].matchAll(/(?<![\w-])(--?[a-zA-Z0-9][\w-]*)/g)) s.add(o[1]);
  }
  return s;
}

/** Options named with Fl in a man page: on .It lines only (listed), or anywhere (mentioned). */
function manOptions(text: string, listedOnly: boolean): Set<string> {
  const s = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(listedOnly ? '.It Fl ' : '.')) continue;
    const w = line.slice(1).split(/\s+/);
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== 'Fl') continue;
      for (let j = i + 1; j < w.length && !MACRO.test(w[j]); j++) if (w[j] !== ',' && w[j] !== '|') s.add('-' + w[j].replace(/[,;:)]+$/, ''));
    }
  }
  return s;
}

const mentions = (text: string, opt: string) => new RegExp(`(?<![\\w-])${opt.replace(/[-]/g, '\\-')}(?![\\w-])`).test(text);

for (const b of BINS) {
  const man = page(b);
  if (!man) continue;   // (a binary without a page: see the last test)
  t.test(`${b}: --help and its man page list the same options`, async (t) => {
    const help = execFileSync(join(BIN, b), ['--help'], { encoding: 'utf8' }), text = readFileSync(man, 'utf8');
    const listed = helpOptions(help), inMan = manOptions(text, false);
    t.ok(listed.size >= 2, `--help lists options (${listed.size})`);
    t.same([...listed].filter(o => !inMan.has(o)), [], 'every --help option is in the man page');
    t.same([...manOptions(text, true)].filter(o => !mentions(help, o)), [], 'every option the man page lists is in --help');
  });
}

t.test('every man page passes mandoc -Tlint -Wwarning', async (t) => {
  const pages = BINS.map(page).filter((p): p is string => !!p);
  let out = '';
  try { execFileSync('mandoc', ['-Tlint', '-Wwarning', ...pages, join(ROOT, 'man/zb-map.5'), join(ROOT, 'man/zb-stream.5')], { encoding: 'utf8', stdio: 'pipe' }); }
  catch (e: any) { out = `${e.stdout}${e.stderr}`; }
  t.equal(out, '');
});

t.test('every binary has a man page', async (t) => {
  t.same(BINS.filter(b => !page(b)), []);
});
