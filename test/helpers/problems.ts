// The model tests' view of a refusal: the problems a TopologyError lists.
import { expect } from 'vitest';
import { planTopology, TopologyError } from '../../src/model/topology.ts';

/**
 * The problems `run` refuses `input` with (it must throw a TopologyError);
 * fails the test, showing the input, when it accepts it.
 */
export function refusalProblems(run: () => unknown, input: unknown): string[] {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as TopologyError).problems;
  }
  throw new Error(typeof input === 'string' ? `accepted:\n${input}` : `accepted: ${JSON.stringify(input)}`);
}

/** The problems planTopology reports for `doc` (fails the test if it accepts it). */
export function planProblems(doc: unknown): string[] {
  return refusalProblems(() => planTopology(doc), doc);
}
