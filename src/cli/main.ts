// podwire's command line: one file per command.
import { Command } from 'commander';
import { upCommand } from './up.ts';
import { downCommand } from './down.ts';
import { statusCommand } from './status.ts';
import { benchCommand } from './bench.ts';
import { applyCommand, deleteCommand } from './apply.ts';
import { conntrackCommand } from './conntrack.ts';
import { traceCommand } from './trace.ts';
import { statsCommand } from './stats.ts';
import { fdbCommand } from './fdb.ts';
import { routesCommand } from './routes.ts';
import { servicesCommand } from './services.ts';
import { policiesCommand } from './policies.ts';
import { captureCommand } from './capture.ts';
import { ingressCommand } from './ingress.ts';
import { uiCommand } from './ui.ts';
import { netemCommand } from './netem.ts';
import { graphCommand } from './graph.ts';
import { cniCommand } from './cni.ts';
import { execCommand } from './exec.ts';
import { addDocsLinks } from './docs-links.ts';

const program = new Command()
  .name('podwire')
  .description("A Kubernetes node's data plane in WebAssembly: pods are network namespaces on TAP devices")
  .showHelpAfterError();

program.addCommand(upCommand());
program.addCommand(downCommand());
program.addCommand(statusCommand());
program.addCommand(benchCommand());
program.addCommand(applyCommand());
program.addCommand(deleteCommand());
program.addCommand(conntrackCommand());
program.addCommand(traceCommand());
program.addCommand(statsCommand());
program.addCommand(fdbCommand());
program.addCommand(routesCommand());
program.addCommand(servicesCommand());
program.addCommand(policiesCommand());
program.addCommand(captureCommand());
program.addCommand(ingressCommand());
program.addCommand(uiCommand());
program.addCommand(netemCommand());
program.addCommand(graphCommand());
program.addCommand(cniCommand());
program.addCommand(execCommand());
addDocsLinks(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  console.error(`podwire: ${(e as Error).message}`);
  process.exitCode = 1;
}
