// podwire bench: placeholder wired up as suites land.
import { Command } from 'commander';

export function benchCommand(): Command {
  return new Command('bench').description('benchmarks (see bench/)');
}
