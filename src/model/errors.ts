// The model's one error type: every problem found in an input, reported together.
/** Every problem found in a topology, reported together. */
export class TopologyError extends Error {
  constructor(readonly problems: string[], source = 'topology', headline = `${source} is invalid`) {
    super(`${headline}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'TopologyError';
  }
}
