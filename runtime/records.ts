// The records the runtime keeps in Redis streams and Postgres, each with a format version.
import { Packr } from 'msgpackr';

export const RECORD_VERSION = 1;

// Records (msgpack's extension for repeated object shapes): a batch names the keys of a tick record once, not in
// each of its hundreds of records, which halves its size and its encoding time. Every message defines the shapes
// it uses, so any msgpackr reader decodes it alone. Objects go out as records and come back as objects; a msgpack
// map (a JS Map, or a value some other writer stored) comes back as a Map, so every writer of these streams must
// use records for its objects.
const packr = new Packr({ useRecords: true, variableMapSize: true, int64AsType: 'number' });

/** An inbox entry: one input for one actor. `id` is the submitter's id for it, so a retried submit is stored once. */
export interface InputEnvelope {
  v: typeof RECORD_VERSION;
  id: string;
  /** actor id */
  a: string;
  /** create: the actor type; absent for an input to an existing actor */
  ty?: string;
  /** the create's init or the input, as the actor type defines it */
  b: unknown;
}

/** An input as the journal keeps it: its inbox stream id and its body. */
export interface JournalInput {
  s: string;
  b: unknown;
  /**
   * the index in its record's `o` of the output handling it put out; absent when it put out none (and in records
   * journaled before inputs carried it)
   */
  o?: number;
}

/**
 * One actor's part of a committed batch: the inputs it handled (in order), then, if `t` is set, one tick that
 * reached tick number `t`. `n` numbers an actor's records 1, 2, 3… so a reader sees gaps and duplicates.
 */
export interface JournalRecord {
  a: string;
  n: number;
  at: number;
  /**
   * create: actor type and init (the actor's creation record: SnakeTron's GameCreated), and the create's id in the
   * mailbox (absent in records journaled before creates carried it)
   */
  c?: { ty: string; b: unknown; s?: string };
  i?: JournalInput[];
  t?: number;
  /** outputs for observers, in the order they were produced */
  o?: unknown[];
  /** the actor failed for this reason and stops */
  f?: string;
}

/** An outbox entry: all the journal records of one commit of one partition. */
export interface JournalBatch {
  v: typeof RECORD_VERSION;
  epoch: number;
  seq: number;
  records: JournalRecord[];
}

export interface DeadLetter {
  v: typeof RECORD_VERSION;
  /** the input's id in its partition's mailbox */
  input: string;
  actor: string;
  /** why it was set aside */
  error: string;
  /**
   * how many times the actor was given it: the runtime's maxFailures (3) for one that made it throw each time; 1
   * for one refused when it arrived (an unknown type, an actor created twice); 0 for one whose actor is gone or
   * finished (it was never offered)
   */
  attempts: number;
  body: unknown;
}

export function encodeRecord(value: InputEnvelope | JournalBatch | DeadLetter): Buffer {
  return packr.pack(value);
}

/** Why an actor's output cannot go into a journal record (a BigInt beyond 64 bits, a cycle…), or null when it can. */
export function unstorable(output: unknown): string | null {
  try {
    packr.pack(output);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** A record's outputs as the journal stores them: two runs of one record compare by these bytes (replay verification). */
export function encodeOutputs(outputs: readonly unknown[]): Buffer {
  return packr.pack(outputs);
}

export function decodeInput(bytes: Buffer): InputEnvelope {
  const value = packr.unpack(bytes) as InputEnvelope;
  if (value?.v !== RECORD_VERSION || typeof value.a !== 'string' || typeof value.id !== 'string') {
    throw new Error(`inbox entry of unknown format (version ${String(value?.v)})`);
  }
  return value;
}

export function decodeBatch(bytes: Buffer): JournalBatch {
  const value = packr.unpack(bytes) as JournalBatch;
  if (value?.v !== RECORD_VERSION || !Array.isArray(value.records)) {
    throw new Error(`outbox entry of unknown format (version ${String(value?.v)})`);
  }
  return value;
}

export function decodeDeadLetter(bytes: Buffer): DeadLetter {
  return packr.unpack(bytes) as DeadLetter;
}

/**
 * Stream ids compare as (ms, seq) pairs (an id without a seq has seq 0). Called for every input a worker routes and
 * every turn a node counts: it slices rather than splits, which made it 1–2% of those threads in CPU profiles.
 */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  const dm = Number(ad < 0 ? a : a.slice(0, ad)) - Number(bd < 0 ? b : b.slice(0, bd));
  if (dm !== 0) return Math.sign(dm);
  return Math.sign((ad < 0 ? 0 : Number(a.slice(ad + 1))) - (bd < 0 ? 0 : Number(b.slice(bd + 1))));
}
