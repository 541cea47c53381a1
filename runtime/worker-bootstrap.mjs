// Entry of a worker thread when running from TypeScript sources: registers tsx, then loads the thread's module
// (workerData.entry, set by startThread in thread.ts). Compiled output starts the .js module directly.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
