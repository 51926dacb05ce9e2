// podwire cni install [DIR]: put the CNI plugin where a container runtime looks for it.
import { Command } from 'commander';
import { installPlugin, DEFAULT_CNI_BIN_DIR, PLUGIN_TYPE } from '../cni/install.ts';

export function cniCommand(): Command {
  const cni = new Command('cni').description('podwire as a CNI plugin for container runtimes (podman, containerd)');
  cni.command('install')
    .description(`install the plugin (type "${PLUGIN_TYPE}") into a CNI bin directory`)
    .argument('[dir]', 'the CNI bin directory', DEFAULT_CNI_BIN_DIR)
    .action((dir: string) => {
      const path = installPlugin(dir);
      console.log(`podwire: CNI plugin installed as ${path}`);
      console.log(`podwire: a network for it: {"cniVersion":"1.0.0","name":"podwire","plugins":[{"type":"${PLUGIN_TYPE}","lab":"default","node":"n1"}]}`);
    });
  return cni;
}
