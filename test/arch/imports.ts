// Relative imports of a TypeScript source file, read from its text: shared by
// the layering checks of src/ (layers.test.ts) and of assembly/ (assembly.test.ts).

export interface Imp { spec: string; typeOnly: boolean }
/** Relative specifiers a file imports; comments are stripped first so prose can't fake an import. */
export function importsOf(src: string): Imp[] {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: Imp[] = [];
  // `import type`/`export type` vanish at compile time: they count for layering, not for cycles
  const re = /(?:^\s*(import|export)\s+(type\s)?[^;'"]*?\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (let m; (m = re.exec(code)); ) out.push({ spec: m[3], typeOnly: m[2] !== undefined });
  return out;
}
