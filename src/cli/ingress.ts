// podwire ingress render FILE [--check]: the nginx.conf podwire's Ingress
// controller would run for the Ingress, IngressClass, Secret, Service and
// EndpointSlice manifests of FILE, printed; --check has nginx itself test it
// (`nginx -t`). Works without a lab: a Service's endpoints are those its
// EndpointSlices give (a Service with a selector has none here: its paths
// answer 503).
import { Command } from 'commander';
import { readFileSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${JSON.stringify(v)} is not a port in [1, 65535]`);
  return n;
};

export function ingressCommand(): Command {
  const cmd = new Command('ingress').description('the Ingress controller (nginx): its configuration, rendered from manifests');
  cmd.command('render')
    .description('print the nginx.conf rendered from the Ingress objects (and Services, EndpointSlices, TLS Secrets) of FILE')
    .argument('<file>', 'Kubernetes manifests (YAML)')
    .option('--check', 'have nginx test the configuration (nginx -t)')
    .option('--http-port <port>', 'HTTP port (default 80)', port)
    .option('--https-port <port>', 'HTTPS port (default 443)', port)
    .action(async (file: string, opts: { check?: boolean; httpPort?: number; httpsPort?: number }) => {
      // loaded here, not at start-up, so `podwire --help` stays quick
      const { parseManifests } = await import('../model/manifests.ts');
      const { TopologyError } = await import('../model/errors.ts');
      const { controllerConfig } = await import('../ingress/controller-config.ts');
      const { testNginxConfig } = await import('../ingress/nginx-process.ts');
      const m = parseManifests(readFileSync(file, 'utf8'), file);
      const problems: string[] = [];
      const out = controllerConfig({ ingresses: m.ingresses, classes: m.ingressClasses, secrets: m.secrets, services: m.services, httpPort: opts.httpPort, httpsPort: opts.httpsPort }, problems);
      if (!out) throw new TopologyError(problems, file);
      if (opts.check) {
        // nginx -t reads the TLS files too: lay them out as nginx's prefix would hold them
        const prefix = mkdtempSync(join(tmpdir(), 'pw-nginx-check-'));
        try {
          for (const f of out.files) {
            mkdirSync(join(prefix, dirname(f.path)), { recursive: true });
            writeFileSync(join(prefix, f.path), f.content, { mode: f.mode });
          }
          await testNginxConfig(prefix, out.config);
        } finally {
          rmSync(prefix, { recursive: true, force: true });
        }
        console.error(`nginx -t: the configuration for ${out.served.length} Ingress(es) is valid`);
      }
      process.stdout.write(out.config);
    });
  return cmd;
}
