// Entry of a worker thread when running from TypeScript sources: registers tsx, then loads the thread's module
// (workerData.entry; the executor worker when none is named). Compiled output starts the .js module directly.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData?.entry ?? './worker.ts');
