// The Ingress end-to-end tests' shared pieces: a backend that answers with
// its name and the path it was asked for (and streams /big?bytes=N), and a
// kubernetes.io/tls Secret with an Ingress for secure.example, its
// certificate made now by openssl.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnIn } from './lab.ts';

/** A backend: answers "NAME PATH"; /big?bytes=N streams N bytes. */
const BACKEND_JS = String.raw`
const http = require('http');
const name = process.argv[1];
http.createServer((req, res) => {
  const big = /^\/big\?bytes=(\d+)$/.exec(req.url);
  if (big) {
    let left = Number(big[1]);
    res.writeHead(200, { 'content-length': left });
    const chunk = Buffer.alloc(65536, 120);
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
    return;
  }
  const body = name + ' ' + req.url + '\n';
  res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(8080, '0.0.0.0', () => console.log('listening'));
`;

/** Start the backend NAME on :8080 in namespace `ns`; resolves once it listens. */
export async function startNameBackend(ns: string, name: string): Promise<ChildProcess> {
  const p = spawnIn(ns, [process.execPath, '-e', BACKEND_JS, name]);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`backend ${name} in ${ns} did not listen`)), 10_000);
    p.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('listening')) { clearTimeout(t); resolve(); } });
    p.once('exit', (c) => { clearTimeout(t); reject(new Error(`backend ${name} exited ${c}`)); });
  });
  return p;
}

/** A Secret secure-tls (a self-signed certificate for secure.example, written to DIR/tls.crt) and an Ingress secure routing it to web:80. */
export function secureIngressManifests(dir: string): { manifests: string; crt: string } {
  const key = join(dir, 'tls.key');
  const crt = join(dir, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '1',
    '-subj', '/CN=secure.example', '-addext', 'subjectAltName=DNS:secure.example'], { stdio: 'ignore' });
  const indent = (f: string) => readFileSync(f, 'utf8').trimEnd().split('\n').map((l) => `    ${l}`).join('\n');
  const manifests = `apiVersion: v1
kind: Secret
metadata: { name: secure-tls }
type: kubernetes.io/tls
stringData:
  tls.crt: |
${indent(crt)}
  tls.key: |
${indent(key)}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: secure }
spec:
  tls: [{ hosts: [secure.example], secretName: secure-tls }]
  rules:
    - host: secure.example
      http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }] }
`;
  return { manifests, crt };
}
