// Worker threads do not inherit the main thread's TypeScript loader: register
// tsx here, then load the TypeScript entry named in workerData.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
