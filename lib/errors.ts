// The errors every module throws: one line for the user, and the exit status it means.
// Told apart by type, never by their message text.

/** A failure to report as one line; `status` is the exit code (1 failure). */
export class ZbError extends Error {
  constructor(message: string, public status = 1) { super(message); }
}
/** Bad usage: exit status 2, and the binary adds "Try '... --help'". */
export class UsageError extends ZbError {
  constructor(message: string) { super(message, 2); }
}
/** The disk (or quota) is full: "no space left on device", "disk quota exceeded". */
export class DiskFullError extends ZbError {}
/** The store's new map is in place but may not be durable: what it references must stay. */
export class CommittedError extends ZbError {}
