// ssh2, for connect.ts to load when a command first connects. A module of its own so that
// the bundle require()s the vendored ssh2 (dist/vendor/ssh2.cjs) inside a lazy module: an
// import() of it would go through the ESM loader, which parses 600 KB of CommonJS for its
// export names first (~0.1 s of every ssh command's start).
import ssh2 from 'ssh2';
export default ssh2;
