#!/usr/bin/env node
// The CNI plugin a container runtime runs (podwire cni install puts a wrapper
// for it into the runtime's CNI bin directory); its logic is src/cni/.
import { register } from 'tsx/esm/api';

register();
await import('../src/cni/main.ts');
