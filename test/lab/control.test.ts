// The control socket's two kinds of answer: one JSON reply (unchanged), or a
// ControlStream that owns the socket after {"ok":true,"stream":true} — the
// client sees exactly the streamed bytes, and the handler sees the close.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Server, type Socket } from 'node:net';
import { serveControl, requestControl, openControlStream, ControlStream } from '../../src/lab/control.ts';

describe('control socket streams', () => {
  let dir = '';
  let path = '';
  let server: Server;
  let closed: Promise<void>;
  let onClosed = () => {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pw-control-'));
    path = join(dir, 'c.sock');
    server = await serveControl(path, async (req) => {
      if (req.cmd === 'echo') return { said: req.text };
      if (req.cmd === 'bad') throw new Error('no such thing');
      if (req.cmd === 'count') {
        return new ControlStream((sock: Socket) => {
          // written right after the reply line: they usually arrive in its chunk (the client puts them back)
          sock.write(Buffer.from([0, 1, 2]));
          let i = 3;
          const t = setInterval(() => sock.write(Buffer.from([i++ & 0xff])), 5);
          sock.on('close', () => { clearInterval(t); onClosed(); });
        });
      }
      throw new Error(`unknown command "${req.cmd}"`);
    });
  });
  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one-shot requests answer as before', async () => {
    expect(await requestControl(path, 'echo', 2000, { text: 'hi' })).toEqual({ said: 'hi' });
    await expect(requestControl(path, 'bad')).rejects.toThrow('no such thing');
  });

  it('a stream delivers exactly the bytes after the reply line, in order, and the handler sees the client leave', async () => {
    closed = new Promise((r) => { onClosed = r; });
    const sock = await openControlStream(path, 'count');
    const got: number[] = [];
    await new Promise<void>((resolve) => {
      sock.on('data', (c: Buffer) => {
        got.push(...c);
        if (got.length >= 20) resolve();
      });
    });
    expect(got.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    sock.destroy();
    await closed;
  });

  it('a refused stream rejects with the lab\'s error; a one-shot answer is not a stream', async () => {
    await expect(openControlStream(path, 'bad')).rejects.toThrow('no such thing');
    await expect(openControlStream(path, 'echo', { text: 'x' })).rejects.toThrow(/answered once instead of streaming/);
    await expect(openControlStream(join(dir, 'none.sock'), 'count')).rejects.toThrow(/cannot reach the lab/);
  });

  it('a request over the size bound is refused at once (not buffered without end), and the server keeps answering', async () => {
    const reply = await new Promise<string>((resolve) => {
      const sock = createConnection(path);
      let buf = '';
      const t = setTimeout(() => { sock.destroy(); resolve(`(no answer after 5 s) ${buf}`); }, 5000);
      sock.setEncoding('utf8');
      sock.on('data', (c: string) => { buf += c; });
      sock.on('close', () => { clearTimeout(t); resolve(buf); });
      sock.on('error', () => {});
      // 17 MiB, no end of line yet: a client that never stops must not grow the lab's memory without bound
      sock.on('connect', () => sock.write(`{"cmd":"echo","text":"${'x'.repeat(17 << 20)}`));
    });
    expect(reply).toMatch(/^\{"ok":false,"error":"request too large/);
    expect(await requestControl(path, 'echo', 2000, { text: 'still here' })).toEqual({ said: 'still here' });
  });
});
