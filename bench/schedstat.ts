// How long a thread waited for a core: on a machine whose cores its servers share with their load drivers, a
// thread that is ready to run may wait on the run queue, and that wait is part of every latency measured.
import { readFileSync } from 'node:fs';

/**
 * Seconds a thread (by default a process's main thread) has spent runnable but not running since it started, from
 * /proc's schedstat (its second field, in ns); null where the kernel does not keep it or the thread is gone.
 */
export function runQueueWaitSeconds(pid: number, tid = pid): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return null;
  }
}

/** The share of a window (seconds) a thread spent waiting for a core, from two readings of runQueueWaitSeconds. */
export function waitedShare(from: number | null, to: number | null, seconds: number): number | null {
  return from === null || to === null || seconds <= 0 ? null : (to - from) / seconds;
}
