// Entry of a worker thread when running from TypeScript sources: registers tsx, then loads the worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
