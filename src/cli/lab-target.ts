// Which running lab a command talks to: --name, or the only one running.
import { listLabs, readState, labProcessAlive, type LabState } from '../lab/state.ts';

export function runningLab(name?: string): LabState {
  const lab = name ?? onlyLab();
  const state = readState(lab);
  if (!state || !labProcessAlive(state)) throw new Error(`lab "${lab}" is not running${state ? ' (its process died: podwire down cleans up)' : ''}`);
  return state;
}

function onlyLab(): string {
  const live = listLabs().filter((l) => { const s = readState(l); return s && labProcessAlive(s); });
  if (live.length === 1) return live[0];
  if (live.length === 0) throw new Error('no lab is running (start one with: sudo npx podwire up)');
  throw new Error(`several labs are running (${live.join(', ')}): pick one with --name`);
}
