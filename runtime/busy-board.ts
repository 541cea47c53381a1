// What a worker thread is doing, in memory it shares with the supervisor: its executors note whose tick or replay
// they run. When the worker hangs or dies, the supervisor reads whose it was, so an actor whose own code stops
// workers is named and, after a few stops, ended or parked instead of stopping its worker for good (see
// PartitionExecutor.recover). Inputs are not noted: those in flight at a stop are counted by the executor.

/** A tick with no input handled before it in its cycle, one after inputs (theirs, maybe), a replay of the journal. */
export type BusyPhase = 'tick' | 'tick-after-inputs' | 'replay';

const PHASES: ReadonlyArray<BusyPhase | null> = [null, 'tick', 'tick-after-inputs', 'replay'];
/** Actor ids are cut at this many bytes (the runtime's are far shorter). */
const ID_BYTES = 240;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface BusyWith {
  phase: BusyPhase;
  partition: number;
  actorId: string;
}

export class BusyBoard {
  /** phase, partition, length of the actor id */
  private readonly header: Int32Array;
  private readonly id: Uint8Array;

  constructor(readonly buffer = new SharedArrayBuffer(12 + ID_BYTES)) {
    this.header = new Int32Array(buffer, 0, 3);
    this.id = new Uint8Array(buffer, 12, ID_BYTES);
  }

  /** An actor id as `enter` takes it: encoded once per actor, not at each of its ticks. */
  static idOf(actorId: string): Uint8Array {
    return encoder.encode(actorId).subarray(0, ID_BYTES);
  }

  enter(phase: BusyPhase, partition: number, actorId: Uint8Array): void {
    this.id.set(actorId);
    this.header[2] = actorId.length;
    this.header[1] = partition;
    this.header[0] = PHASES.indexOf(phase);
  }

  leave(): void {
    this.header[0] = 0;
  }

  /** What the worker was in when it stopped, or null when it was in nothing an actor is blamed for. */
  read(): BusyWith | null {
    const phase = PHASES[this.header[0]] ?? null;
    if (phase === null) return null;
    return { phase, partition: this.header[1], actorId: decoder.decode(this.id.subarray(0, this.header[2])) };
  }
}
