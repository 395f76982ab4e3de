// The chunk store seam: what the engine (write.ts, read.ts) needs of a place that keeps a map and
// chunks. A store offers only I/O; every rule (what a chunk is, when the map may change,
// what may be deleted, what a restore checks) is the engine's. The engine never imports a
// store: a caller makes one (dir/dir.ts; an object store next) and hands it over.
//
// Keys are paths relative to the store's root (DEST/PREFIX for a directory, the prefix in
// a bucket): 'chunks/NAME' for our chunks; the original tool's maps name theirs by path.
//
// Written for stores where:
// - the map is the commit point: one rename, or one PutObject;
// - a run's chunks become visible only at publish, and abort() removes what the run made,
//   and may take time (a signal handler awaits it, bounded, before exiting);
// - whether a run is still going may not be seen from a pid: a store says what it knows
//   of each run (RunInfo.state), from pids or from run-scoped names and an age rule;
// - a chunk is read once on restore: read() streams it, and the engine checks its sha256
//   as the bytes pass (holding back the chunk's last piece until the hash matches).

/** What a key names in the store. */
export type Stat = { kind: 'file'; size: number } | { kind: 'missing' } | { kind: 'other' };

export interface ChunkStore {
  /** where it is, for messages: '/mnt/usb/host', 's3://bucket/host' */
  readonly where: string;
  /** the map's name in messages: '/mnt/usb/host/map.json' */
  readonly mapName: string;
  /** the store's name under its parent (DEST or the bucket): the original tool's chunk
   *  paths begin with it */
  readonly prefix: string;
  /** the map's text, or undefined when there is none yet */
  readMap(): Promise<string | undefined>;
  /** The commit point: the map becomes `text` at once, or stays as it was (throws). When it
   *  is in place but may not be durable, throws CommittedError (write.ts keeps its chunks). */
  writeMap(text: string): Promise<void>;
  /** Take the store's writer lock, waiting up to waitSec; resolves to its release. */
  lock(waitSec: number): Promise<() => Promise<void>>;
  /** Make the store ready to be written (its directories, its bucket). */
  prepareWrite(): Promise<void>;
  /** Begin a run: chunks written through it are invisible until publish. */
  begin(stem: string): Promise<StoreRun>;
  stat(key: string): Promise<Stat>;
  /** The bytes of key, from start (default 0) up to end (exclusive; default its end), in
   *  pieces the caller keeps (a store never reuses a piece it handed out). */
  read(key: string, range?: { start?: number; end?: number }): AsyncIterable<Buffer>;
  /** The names under chunks/ (our chunks, and whatever else is there). */
  list(): Promise<string[]>;
  /** Remove a chunk; one already gone is no error. */
  remove(key: string): Promise<void>;
  /** The runs the store shows (other than the caller's): staging areas, run markers. */
  runs(): Promise<RunInfo[]>;
  /** Ask for keys to become readable (an archive tier's restore request). Returns why they
   *  cannot be read yet, or undefined when they can. Absent: always readable. */
  prepareRead?(keys: string[]): Promise<string | undefined>;
}

/** The chunks of one run. */
export interface StoreRun {
  /** A new chunk of this run. */
  create(name: string): Promise<ChunkSink>;
  /** Make the run's chunks visible under chunks/, under the lock, after they are all
   *  durable: first a run marker (the final names), then the chunks. A name that is taken
   *  gets another (the returned names, in order); nothing is ever overwritten. */
  publish(names: string[]): Promise<string[]>;
  /** Remove everything this run made, published or not. */
  abort(): Promise<void>;
  /** After the map is committed: the run's marker and staging area go. */
  done(): Promise<void>;
}

/** One chunk being written: write() may keep its buffer until the promise settles;
 *  close() makes the chunk durable. */
export interface ChunkSink {
  write(b: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** A run the store shows: what is known of it, and the names its marker lists (undefined:
 *  it has none, it died before publishing; null: a marker that does not read). */
export interface RunInfo {
  /** its key, for messages: 'chunks/.zb-partial.host.123.ab12cd34' */
  name: string;
  /** failed: it will not go on (its process is dead, or it is older than any run can be);
   *  running: it is going on; unknown: cannot tell (another host's) */
  state: 'failed' | 'running' | 'unknown';
  /** who made it, for messages: "pid 123", "host 'b'" */
  who: string;
  listed: string[] | undefined | null;
  /** Remove the run's own leftovers (staging area, marker; not published chunks). False
   *  when it holds what is not the store's to remove. */
  remove(): Promise<boolean>;
}
