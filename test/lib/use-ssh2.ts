// Imported first by ssh-over-ssh2.test.ts: the stream over ssh2's channel for every command
// the ssh tests run (before util.ts copies the environment).
process.env.ZB_SSH = 'ssh2';
