// Commands that create namespaces and TAP devices need root.
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root (it creates network namespaces and TAP devices): run it with sudo`);
  }
}
