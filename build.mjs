// The bundles (make build, make sea). Every binary is one program, cmd/zb.ts:
//   dist/zb.cjs         what the dist/bin/NAME links run. The heavy dependencies are not in it:
//                       dist/vendor/{ssh2,aws-sdk-client-s3,aws-sdk-lib-storage}.cjs are loaded
//                       only by a command that uses them (zb-chunk-s3, zb-recv-ssh, zb-list,
//                       zfsbackup), so a pipeline stage such as zb-compress parses 40 KB, not 2.5 MB.
//   dist/sea/zb.cjs     everything in one file, for the single executable (make sea: the SEA
//                       loads one script; its code cache makes the size cheap at start).
// node build.mjs [sea] VERSION
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const [what, version] = process.argv.slice(2);
const VENDOR = ['ssh2', '@aws-sdk/client-s3', '@aws-sdk/lib-storage'];
const file = (id) => `${id.replace(/^@/, '').replace(/\W+/g, '-')}.cjs`;

/** Resolve the vendored packages to their bundle, relative to the bundle being built. */
const vendor = (dir, except) => ({
  name: 'vendor',
  setup(b) {
    b.onResolve({ filter: /^(ssh2|@aws-sdk\/client-s3|@aws-sdk\/lib-storage)$/ }, (a) =>
      a.path === except ? undefined : { path: `${dir}${file(a.path)}`, external: true });
  },
});

const common = {
  bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning',
  logOverride: { 'empty-import-meta': 'silent' }, loader: { '.node': 'copy' },
  banner: { js: readFileSync('cmd/sea-require.cjs', 'utf8') }, define: { __ZB_VERSION__: JSON.stringify(version) },
};

if (what === 'sea') {
  await build({ ...common, entryPoints: ['cmd/zb.ts'], outfile: 'dist/sea/zb.cjs' });
} else {
  await build({ ...common, entryPoints: ['cmd/zb.ts'], outfile: 'dist/zb.cjs', plugins: [vendor('./vendor/')] });
  for (const id of VENDOR) {
    await build({ ...common, banner: {}, stdin: { contents: `module.exports = require(${JSON.stringify(id)});`, resolveDir: '.', loader: 'js' },
      outfile: `dist/vendor/${file(id)}`, plugins: [vendor('./', id)] });
  }
}
