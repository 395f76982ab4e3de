#!/usr/bin/env node
// zb-count: not yet implemented (a later issue fills it in).
import { run, ZbError } from '../lib/cli.js';

run(async () => { throw new ZbError('not yet implemented'); }, `Usage: $0 [OPTION]...
Not yet implemented.
`);
