#!/usr/bin/env node
// zb-chunk-s3: not yet implemented (the S3 issue fills it in).
import { ZbError } from '../lib/errors.js';
import { run, parseArgs } from '../lib/cli/command.js';

run(async (argv) => {
  parseArgs(argv, {});
  throw new ZbError('not yet implemented (the S3 issue builds it)');
}, `Usage: $0 [OPTION]...
Store a zb stream as chunk objects on S3. Not yet implemented.
`);
