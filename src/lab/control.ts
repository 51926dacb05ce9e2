// The control socket of a running lab (a unix socket under the state dir):
// one JSON request line in, one JSON reply out. Only root can reach it
// (the directory is root's), which matches who can change the lab anyway.
import { createServer, createConnection, type Server } from 'node:net';
import { rmSync, chmodSync } from 'node:fs';

export type ControlHandler = (req: { cmd: string } & Record<string, unknown>) => Promise<unknown>;

export function serveControl(path: string, handler: ControlHandler): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((sock) => {
    let buf = '';
    let taken = false;
    sock.setEncoding('utf8');
    sock.on('data', async (chunk: string) => {
      if (taken) return;
      buf += chunk;
      // a request may be megabytes (`podwire apply` of thousands of Services): look for the end in the new chunk only
      if (!chunk.includes('\n')) return;
      taken = true;
      const nl = buf.indexOf('\n');
      let reply: unknown;
      try {
        reply = { ok: true, result: await handler(JSON.parse(buf.slice(0, nl))) };
      } catch (e) {
        reply = { ok: false, error: (e as Error).message };
      }
      sock.end(JSON.stringify(reply) + '\n');
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}

/** Send `cmd` (with the fields of `body`, e.g. the Services to apply) and resolve with the lab's answer. */
export function requestControl(path: string, cmd: string, timeoutMs = 5000, body: Record<string, unknown> = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`no answer on ${path}`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ ...body, cmd }) + '\n'));
    sock.on('data', (c) => { buf += c; });
    sock.on('end', () => {
      clearTimeout(t);
      try {
        const r = JSON.parse(buf) as { ok: boolean; result?: unknown; error?: string };
        if (r.ok) resolve(r.result); else reject(new Error(r.error));
      } catch (e) {
        reject(new Error(`bad reply on ${path}: ${(e as Error).message}`));
      }
    });
    sock.on('error', (e) => { clearTimeout(t); reject(new Error(`cannot reach the lab at ${path}: ${e.message}`)); });
  });
}
