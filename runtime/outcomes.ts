// What became of an input: applied by its actor (in which journal record, with what output) or dead-lettered (with
// the reason), found from the input's id alone. A server following the actor learns the same from its Follower; this
// is for a tool, a test or a request handler that only submitted.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterSource } from './cluster-reader.ts';
import { fieldValue, outputOf, readOutbox } from './journal.ts';
import { decodeDeadLetter, type DeadLetter, type JournalRecord } from './records.ts';

export type InputOutcome =
  /** `output`: what handling it put out (undefined for none, and for a create) */
  | { kind: 'applied'; record: JournalRecord; output: unknown }
  | { kind: 'dead-lettered'; letter: DeadLetter };

/** How often the outbox and the dead letters are looked at again while the input is on its way. */
const POLL_MS = 25;

/**
 * Waits for what became of an input stored in an actor's mailbox: `inputId` is what submit (or create) resolved
 * with. Reads the actor's partition's outbox and dead letters from the input's time on until one of them holds it;
 * null when neither does within `timeoutMs`. An input applied long ago may be found in neither: an outbox keeps
 * what no checkpoint covers yet (and what its readers have not read), a partition's dead letters the newest 100,000.
 */
export async function inputOutcome(cluster: ClusterSource, actorId: string, inputId: string, timeoutMs = 10_000): Promise<InputOutcome | null> {
  const partition = cluster.partitionOf(actorId);
  // committed after the input was stored: its outbox entry, or its dead letter, has an id of the input's time or later
  const fromMs = Number(inputId.slice(0, inputId.indexOf('-')));
  if (!Number.isFinite(fromMs)) throw new TypeError(`${inputId} is not a mailbox id (ms-seq, as submit resolves with)`);
  let outboxAfter: string | undefined;
  let lettersFrom = `${fromMs}-0`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for await (const entry of readOutbox(cluster.redis, cluster.keys, partition, outboxAfter ?? '-', 200, outboxAfter === undefined ? fromMs : undefined)) {
      outboxAfter = entry.id;
      for (const record of entry.batch.records) {
        if (record.a !== actorId) continue;
        if (record.c?.s === inputId) return { kind: 'applied', record, output: undefined };
        if (record.i?.some((i) => i.s === inputId)) return { kind: 'applied', record, output: outputOf(record, inputId) };
      }
    }
    const letters = await cluster.redis.xrangeBuffer(cluster.keys.deadLetters(partition), lettersFrom, '+');
    for (const [id, fields] of letters) {
      lettersFrom = `(${id.toString()}`;
      const letter = decodeDeadLetter(fieldValue(fields, 'd'));
      if (letter.input === inputId) return { kind: 'dead-lettered', letter };
    }
    if (Date.now() >= deadline) return null;
    await sleep(POLL_MS);
  }
}
