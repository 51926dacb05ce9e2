#!/usr/bin/env node
// Entry point: the control plane is TypeScript, loaded through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
