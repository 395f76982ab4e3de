// The ssh tests again with the stream over ssh2's channel (ZB_SSH=ssh2) instead of OpenSSH's
// ssh: both transports of zb-recv-ssh stay tested (the default is ssh where it is installed).
import './lib/use-ssh2.js';   // first: the modules below read the environment as they load
import t from 'tap';
import './ssh.test.js';
import './ssh-hostile.test.js';
t.setTimeout(10 * 60_000);   // two files' tests: longer than a file's default
