// Poller + EventFd across threads: the main thread wakes a worker blocked in poll(2).
import { describe, it, expect, afterAll } from 'vitest';
import { Worker } from 'node:worker_threads';
import { EventFd } from '../../src/io/eventfd.ts';
import { Poller } from '../../src/io/poller.ts';

// Node 20 workers ignore `execArgv: ['--import', 'tsx']` for .ts entry files;
// loading the entry through tsx's tsImport from a tiny eval'd bootstrap works.
function tsWorker(entry: URL, workerData: unknown): Worker {
  const code = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}))`;
  return new Worker(code, { eval: true, workerData });
}

type Msg = { step: string; ready?: number; readable?: boolean[]; drained?: number[]; waitedMs?: number; errnos?: number[] };

describe('Poller and EventFd', () => {
  const fds: EventFd[] = [];
  afterAll(() => fds.forEach((e) => e.close()));

  it('counts signals and drains to zero on the main thread', () => {
    const e = new EventFd();
    fds.push(e);
    const p = new Poller([e.fd]);
    expect(p.wait(0)).toBe(0);
    e.signal();
    e.signal();
    expect(p.wait(0)).toBe(1);
    expect(p.isReadable(0)).toBe(true);
    expect(e.drain()).toBe(2);
    expect(e.drain()).toBe(0); // EAGAIN → 0, not a throw
    p.setFds([e.fd, e.fd, e.fd, e.fd, e.fd]); // outgrows the initial buffer
    e.signal();
    expect(p.wait(0)).toBe(5);
  });

  it('wakes a worker blocked in poll(-1)', async () => {
    const wake = new EventFd();
    const data = new EventFd();
    fds.push(wake, data);
    const worker = tsWorker(new URL('./fixtures/poll-worker.ts', import.meta.url), { wakeFd: wake.fd, dataFd: data.fd });
    try {
      const msgs: Msg[] = [];
      const done = new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: Msg) => {
          msgs.push(m);
          // Give the worker time to actually enter poll before waking it.
          if (m.step === 'blocking') setTimeout(() => wake.signal(), 50);
          if (m.step === 'woken') { data.signal(); data.signal(); worker.postMessage('go'); }
          if (m.step === 'data') resolve();
        });
      });
      await done;
      const [timeout, , woken, dataMsg] = msgs;
      expect(timeout).toMatchObject({ step: 'timeout', ready: 0, readable: [false, false], errnos: [-11, -9] });
      expect(timeout.waitedMs).toBeGreaterThanOrEqual(25);
      expect(woken).toMatchObject({ ready: 1, readable: [true, false], drained: [1, 0] });
      expect(woken.waitedMs).toBeGreaterThanOrEqual(40); // it really blocked
      expect(dataMsg).toMatchObject({ ready: 1, readable: [false, true], drained: [0, 2] });
    } finally {
      await worker.terminate();
    }
  });
});
