// Backends and clients for the Service end-to-end tests: a small server in
// each pod that answers with the pod's name (HTTP on :8080, UDP on :5353), and
// the clients that talk to it from a pod (or node) namespace: N sequential
// HTTP requests, and one connect to see whether it is refused at once.
import type { ChildProcess } from 'node:child_process';
import { execIn } from './lab.ts';
import { PYTHON, startListening } from './traffic.ts';

/** The port the pod servers answer HTTP on (a Service's targetPort). */
export const HTTP_PORT = 8080;
/** The port the pod servers answer UDP on. */
export const UDP_PORT = 5353;

/**
 * `python3 -c SERVER_PY NAME [--client]`: HTTP on :8080 answering "NAME\n",
 * or with --client "NAME CLIENTADDR\n" (the address the request came from,
 * to tell masquerade from source preservation); UDP on :5353 answering NAME.
 * Prints "listening" once both sockets are bound.
 */
export const SERVER_PY = String.raw`
import http.server, socket, sys, threading
name, with_client = sys.argv[1], '--client' in sys.argv[2:]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = ((name + ' ' + self.client_address[0]) if with_client else name) + '\n'
        b = b.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(('0.0.0.0', ${HTTP_PORT}), H)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('0.0.0.0', ${UDP_PORT}))
def udp():
    while True:
        d, a = u.recvfrom(2048)
        u.sendto(name.encode(), a)
threading.Thread(target=udp, daemon=True).start()
print('listening', flush=True)
srv.serve_forever()
`;

const START_TIMEOUT_MS = 10_000;

/**
 * Start SERVER_PY in pw-<pod> for each pod (answering with the pod's name;
 * `clientAddress: true` adds the client address it saw) and wait until each
 * printed "listening". Rejects, naming the pod and with the server's stderr,
 * when one exits or is not listening within 10 s; the servers started are
 * then killed. The caller kills the servers it got (killAll).
 */
export async function startPodServers(pods: string[], opts: { clientAddress?: boolean } = {}): Promise<ChildProcess[]> {
  const servers = pods.map((pod) => startListening(`pw-${pod}`, [PYTHON, '-c', SERVER_PY, pod, ...(opts.clientAddress ? ['--client'] : [])],
    `server in pw-${pod}`, START_TIMEOUT_MS));
  const procs = servers.map((s) => s.proc);
  const failed = (await Promise.allSettled(servers.map((s) => s.listening))).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    killAll(procs);
    throw failed.reason;
  }
  return procs;
}

/** SIGKILL every process still running (servers from startPodServers, iperf3 -s, ...). */
export function killAll(procs: Iterable<ChildProcess>): void {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

// N sequential requests to host:port, each on a new connection (a new flow:
// a new backend choice); prints the answers (bodies, stripped) and failures.
const HTTP_N_PY = String.raw`
import http.client, json, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
got, fails = [], []
for i in range(n):
    try:
        c = http.client.HTTPConnection(host, port, timeout=3)
        c.request('GET', '/')
        r = c.getresponse()
        got.append(r.read().decode().strip())
        c.close()
        if r.status != 200:
            fails.append('status %d' % r.status)
    except Exception as e:
        fails.append(repr(e))
print(json.dumps({'got': got, 'fails': fails}))
`;

/**
 * `n` sequential HTTP GETs to http://host:port/ from inside `ns`, each on a
 * new connection: the bodies that came back, in order, and what failed
 * (exceptions, non-200 statuses). Throws when the client itself fails.
 */
export async function httpRequests(ns: string, host: string, port: number, n: number, opts: { timeoutMs?: number } = {}): Promise<{ got: string[]; fails: string[] }> {
  const r = await execIn(ns, [PYTHON, '-c', HTTP_N_PY, host, String(port), String(n)], { timeoutMs: opts.timeoutMs ?? 60_000 });
  if (r.code !== 0) throw new Error(`HTTP client in ${ns} (to ${host}:${port}) failed (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { got: string[]; fails: string[] };
}

/** httpRequests, all of which must succeed: the `n` answers (throws listing the failures otherwise). */
export async function httpAnswers(ns: string, host: string, port: number, n: number, opts: { timeoutMs?: number } = {}): Promise<string[]> {
  const { got, fails } = await httpRequests(ns, host, port, n, opts);
  if (fails.length) throw new Error(`${fails.length} of ${n} requests from ${ns} to ${host}:${port} failed: ${JSON.stringify(fails)}`);
  return got;
}

/** How many times each answer came back: { 'web-1': 34, ... }. */
export function tally(answers: string[]): Record<string, number> {
  const n: Record<string, number> = {};
  for (const a of answers) n[a] = (n[a] ?? 0) + 1;
  return n;
}

// One connect (TCP) or send+recv (UDP): how it ended and how long it took.
const CONNECT_PY = String.raw`
import json, socket, sys, time
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = time.monotonic()
try:
    if proto == 'tcp':
        s = socket.create_connection((host, port), timeout=5)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.connect((host, port))
        s.send(b'q')
        s.recv(100)
    r = 'connected'
except ConnectionRefusedError:
    r = 'refused'
except Exception as e:
    r = repr(e)
print(json.dumps({'result': r, 'seconds': time.monotonic() - t}))
`;

/**
 * One TCP connect, or one UDP send + receive, from inside `ns` to host:port
 * (5 s timeout): `result` is 'connected', 'refused' (RST / ICMP port
 * unreachable) or the exception, `seconds` how long it took to know.
 */
export async function connectOutcome(ns: string, host: string, port: number, proto: 'tcp' | 'udp'): Promise<{ result: string; seconds: number }> {
  const r = await execIn(ns, [PYTHON, '-c', CONNECT_PY, host, String(port), proto], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`connect client in ${ns} (to ${host}:${port}/${proto}) failed (exit ${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { result: string; seconds: number };
}
