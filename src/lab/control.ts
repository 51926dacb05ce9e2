// The control socket of a running lab (a unix socket under the state dir):
// one JSON request line in, one JSON reply out. Only root can reach it
// (the directory is root's), which matches who can change the lab anyway.
//
// A handler may answer with a ControlStream instead (`podwire capture`):
// the reply line is then {"ok":true,"stream":true} and the handler owns the
// socket from there on, writing what it streams until the client closes it.
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { rmSync, chmodSync } from 'node:fs';

/**
 * A handler's answer that streams: after the {"ok":true,"stream":true} line
 * the server calls start(sock), which owns the socket from then on (writes
 * raw bytes or lines) and must stop when it closes ('close' event). A client
 * that left while the handler was busy shows as sock.destroyed in start.
 */
export class ControlStream {
  constructor(readonly start: (sock: Socket) => void) {}
}

export type ControlHandler = (req: { cmd: string } & Record<string, unknown>) => Promise<unknown>;

/**
 * The largest request line the lab reads (bytes). `podwire apply` of
 * thousands of Services is a few MB; anything past this is refused with an
 * error reply and the connection closed, so a client that never sends an
 * end of line cannot grow the lab's memory without bound.
 */
export const MAX_REQUEST_BYTES = 16 << 20;

export function serveControl(path: string, handler: ControlHandler): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((sock) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let taken = false;
    sock.on('data', async (chunk: Buffer) => {
      if (taken) return;
      // a request may be megabytes (`podwire apply` of thousands of Services): look for the end in the new chunk only
      const nlAt = chunk.indexOf(0x0a);
      if (size + (nlAt < 0 ? chunk.length : nlAt) > MAX_REQUEST_BYTES) {
        taken = true;
        chunks.length = 0;
        sock.end(JSON.stringify({ ok: false, error: `request too large (over ${MAX_REQUEST_BYTES} bytes without an end of line)` }) + '\n');
        sock.destroySoon();
        return;
      }
      chunks.push(chunk);
      size += chunk.length;
      if (nlAt < 0) return;
      taken = true;
      const line = Buffer.concat(chunks, size).subarray(0, size - chunk.length + nlAt).toString('utf8');
      chunks.length = 0;
      let reply: unknown;
      try {
        const result = await handler(JSON.parse(line));
        if (result instanceof ControlStream) {
          if (!sock.destroyed) sock.write(JSON.stringify({ ok: true, stream: true }) + '\n');
          result.start(sock);
          return;
        }
        reply = { ok: true, result };
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

/**
 * Send `cmd` (with the fields of `body`) to a handler that answers with a
 * ControlStream, and resolve with the socket once the lab said
 * {"ok":true,"stream":true}; rejects with the lab's error on ok:false. The
 * socket holds exactly the streamed bytes (anything that arrived with the
 * reply line is put back) and is not flowing yet: attach 'data' or pipe it.
 * Closing it tells the lab to stop.
 */
export function openControlStream(path: string, cmd: string, body: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let head = Buffer.alloc(0);
    const fail = (e: Error) => { clearTimeout(t); sock.off('readable', onReadable); sock.destroy(); reject(e); };
    const t = setTimeout(() => fail(new Error(`no answer on ${path}`)), timeoutMs);
    // 'readable' (not 'data'): the stream never starts flowing here, so nothing is lost before the caller listens
    const onReadable = () => {
      for (let c = sock.read() as Buffer | null; c; c = sock.read() as Buffer | null) {
        head = Buffer.concat([head, c]);
        const nl = head.indexOf(0x0a);
        if (nl < 0) continue;
        clearTimeout(t);
        sock.off('readable', onReadable);
        sock.off('error', onError);
        sock.off('end', onEnd);
        let r: { ok?: boolean; stream?: boolean; error?: string };
        try {
          r = JSON.parse(head.subarray(0, nl).toString('utf8'));
        } catch (e) {
          fail(new Error(`bad reply on ${path}: ${(e as Error).message}`));
          return;
        }
        if (!r.ok) { fail(new Error(r.error ?? 'refused')); return; }
        if (!r.stream) { fail(new Error(`"${cmd}" on ${path} answered once instead of streaming`)); return; }
        const rest = head.subarray(nl + 1);
        if (rest.length) sock.unshift(rest);
        resolve(sock);
        return;
      }
    };
    const onError = (e: Error) => fail(new Error(`cannot reach the lab at ${path}: ${e.message}`));
    const onEnd = () => fail(new Error(`the lab at ${path} closed the connection without an answer`));
    sock.on('connect', () => sock.write(JSON.stringify({ ...body, cmd }) + '\n'));
    sock.on('readable', onReadable);
    sock.on('error', onError);
    sock.on('end', onEnd);
  });
}
