// Starts a worker thread on a module of the project: from TypeScript sources through the tsx bootstrap (a worker
// cannot load a .ts entry by itself on Node 20), from compiled output directly.
import { Worker } from 'node:worker_threads';

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

/** `entry`: the thread's module, as `new URL('./x.ts' or './x.js', import.meta.url)` of the module that starts it. */
export function startThread(entry: URL, workerData: object, name: string): Worker {
  return entry.pathname.endsWith('.ts')
    ? new Worker(BOOTSTRAP, { workerData: { ...workerData, entry: entry.href }, name })
    : new Worker(entry, { workerData, name });
}

/** The module `name` (without extension) beside `base`: `.ts` when `base` runs from sources, `.js` when compiled. */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
