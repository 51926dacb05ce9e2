// Epoll (src/io/epoll.ts): tokens, level-triggered readiness, fds added and
// removed, a dead fd reported as broken, the kernel's rotation of a ready
// list longer than maxEvents, and a worker blocked in epoll_wait woken from
// the main thread.
import { describe, it, expect, afterAll } from 'vitest';
import { Worker } from 'node:worker_threads';
import { EventFd } from '../../src/io/eventfd.ts';
import { Epoll } from '../../src/io/epoll.ts';
import { EBADF, close, socket } from '../../src/io/libc.ts';
import { AF_INET, SOCK_CLOEXEC } from '../../src/io/socket.ts';

const SOCK_STREAM = 1;
const ENOENT = 2;

// Node 20 workers ignore `execArgv: ['--import', 'tsx']` for .ts entry files;
// loading the entry through tsx's tsImport from a tiny eval'd bootstrap works.
function tsWorker(entry: URL, workerData: unknown): Worker {
  const code = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}))`;
  return new Worker(code, { eval: true, workerData });
}

/** The tokens of the last wait's ready events, sorted. */
function readyTokens(ep: Epoll): number[] {
  return Array.from({ length: ep.readyCount }, (_, i) => ep.token(i)).sort((a, b) => a - b);
}

describe('Epoll', () => {
  const fds: EventFd[] = [];
  const epolls: Epoll[] = [];
  const eventFd = () => { const e = new EventFd(); fds.push(e); return e; };
  const epoll = (max?: number) => { const e = new Epoll(max); epolls.push(e); return e; };
  afterAll(() => { fds.forEach((e) => e.close()); epolls.forEach((e) => e.close()); });

  it('reports only the ready fds, by token, and keeps reporting them until drained (level-triggered)', () => {
    const ep = epoll();
    const idle = Array.from({ length: 50 }, eventFd);
    idle.forEach((e, i) => ep.add(e.fd, 100 + i));
    expect(ep.wait(0)).toBe(0);
    idle[7].signal();
    idle[42].signal();
    expect(ep.wait(0)).toBe(2);
    expect(readyTokens(ep)).toEqual([107, 142]);
    for (let i = 0; i < 2; i++) expect(ep.isReadable(i) && !ep.isBroken(i)).toBe(true);
    // not drained: still ready
    expect(ep.wait(0)).toBe(2);
    idle[7].drain();
    expect(ep.wait(0)).toBe(1);
    expect(readyTokens(ep)).toEqual([142]);
  });

  it('forgets a removed fd, re-tags one added twice, and says why a removal did nothing', () => {
    const ep = epoll();
    const a = eventFd();
    const b = eventFd();
    ep.add(a.fd, 1);
    ep.add(b.fd, 2);
    a.signal();
    b.signal();
    expect(ep.remove(a.fd)).toBe(0);
    expect(ep.wait(0)).toBe(1);
    expect(readyTokens(ep)).toEqual([2]);
    ep.add(b.fd, 9); // already watched: the token changes
    expect(ep.wait(0)).toBe(1);
    expect(readyTokens(ep)).toEqual([9]);
    expect(ep.remove(a.fd)).toBe(-ENOENT);
    // a closed fd was dropped by the kernel with its file
    const c = new EventFd();
    ep.add(c.fd, 3);
    c.signal();
    c.close();
    expect(ep.wait(0)).toBe(1);
    expect(readyTokens(ep)).toEqual([9]);
    expect(ep.remove(c.fd)).toBe(-EBADF);
    expect(ep.add(1 << 20, 4)).toBe(-EBADF); // no such fd: refused, not thrown
  });

  it('reports a dead fd as broken (an unconnected stream socket hangs up)', () => {
    const ep = epoll();
    const fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    expect(fd).toBeGreaterThanOrEqual(0);
    try {
      ep.add(fd, 5);
      expect(ep.wait(0)).toBe(1);
      expect(ep.token(0)).toBe(5);
      expect(ep.isBroken(0)).toBe(true);
    } finally {
      close(fd);
    }
  });

  it('rotates a ready list longer than maxEvents, so every ready fd gets its turn', () => {
    const ep = epoll(2);
    const ready = Array.from({ length: 6 }, eventFd);
    ready.forEach((e, i) => { ep.add(e.fd, i + 1); e.signal(); });
    const seen = new Set<number>();
    for (let round = 0; round < 3; round++) {
      expect(ep.wait(0)).toBe(2);
      for (const t of readyTokens(ep)) seen.add(t);
    }
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('wakes a worker blocked in epoll_wait(-1)', async () => {
    const wake = eventFd();
    const data = eventFd();
    const worker = tsWorker(new URL('./fixtures/epoll-worker.ts', import.meta.url), { wakeFd: wake.fd, dataFd: data.fd });
    type Msg = { step: string; ready?: number; tokens?: number[]; drained?: number[]; waitedMs?: number; errnos?: number[] };
    try {
      const msgs: Msg[] = [];
      await new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: Msg) => {
          msgs.push(m);
          // give the worker time to actually block before waking it
          if (m.step === 'blocking') setTimeout(() => wake.signal(), 50);
          if (m.step === 'woken') { data.signal(); data.signal(); worker.postMessage('go'); }
          if (m.step === 'data') resolve();
        });
      });
      const [timeout, , woken, dataMsg] = msgs;
      expect(timeout).toMatchObject({ step: 'timeout', ready: 0, tokens: [], errnos: [-11, -9] });
      expect(timeout.waitedMs).toBeGreaterThanOrEqual(25);
      expect(woken).toMatchObject({ ready: 1, tokens: [1], drained: [1, 0] });
      expect(woken.waitedMs).toBeGreaterThanOrEqual(40); // it really blocked
      expect(dataMsg).toMatchObject({ ready: 1, tokens: [2], drained: [0, 2] });
    } finally {
      await worker.terminate();
    }
  });
});
