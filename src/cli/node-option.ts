// --node NAME for the table commands: keep that node's rows, or say which nodes there are.
export function onlyNode<T>(rows: T[], node: string | undefined, nodeOf: (row: T) => string, nodes: string[]): T[] {
  if (node === undefined) return rows;
  if (!nodes.includes(node)) throw new Error(`no podwire node "${node}" in this lab (podwire nodes: ${nodes.join(', ') || 'none'})`);
  return rows.filter((r) => nodeOf(r) === node);
}
