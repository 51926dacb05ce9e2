// Only when the data plane runs from its TypeScript source (tests): worker
// threads do not inherit the main thread's TypeScript loader, so register tsx
// (a dev dependency) here, then load the entry named in workerData. The
// compiled CLI starts dist/.../engine.js directly and never loads this file.
import { workerData } from 'node:worker_threads';

const { register } = await import('tsx/esm/api');
register();
await import(workerData.entry);
