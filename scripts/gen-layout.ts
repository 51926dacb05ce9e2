// Writes src/dataplane/layout.ts: the WebAssembly memory layout (record
// sizes, field offsets, key shifts, flag bits) and the enums the control
// plane shares with the data plane, read from where assembly/ defines them.
// assembly/ stays the one source of truth; the TypeScript side imports the
// generated module instead of copying numbers by hand.
//
// Run by `npm run build` (npm run gen:layout); the output is checked in, and
// test/dataplane/layout.test.ts fails when it is stale.
//
// Only what is listed below is read: top-level `const NAME: type = expr` and
// `const enum` declarations whose values are integer expressions of literals
// and earlier names of the same file. Anything else is an error naming the
// file and the symbol, never a silent guess.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const OUT = 'src/dataplane/layout.ts';

/** A group of constants from one file, emitted as one `as const` object named `name`. */
interface ConstGroup { name: string; file: string; consts: string[]; doc: string }
const CONSTS: ConstGroup[] = [
  { name: 'Frame', file: 'assembly/frame.ts', doc: 'frame slots (the frame starts HEADROOM into its slot) and the tx list',
    consts: ['HEADROOM', 'TX_ENTRY', 'TX_SLOT', 'TX_PORT', 'TX_START', 'TX_LENGTH', 'GEN_SLOT'] },
  { name: 'Virtio', file: 'assembly/wire/virtio.ts', doc: 'the virtio-net header in front of every frame',
    consts: ['VNET_HLEN', 'VNET_TNL_HLEN'] },
  { name: 'Ports', file: 'assembly/tables/ports.ts', doc: 'port kinds (portAttach)',
    consts: ['PORT_BRIDGE', 'PORT_UNDERLAY'] },
  { name: 'MacTable', file: 'assembly/tables/mac_table.ts', doc: 'the forwarding database: one entry per slot',
    consts: ['ENTRY', 'O_PORT', 'O_SEEN', 'OCCUPIED', 'STATIC'] },
  { name: 'Fib', file: 'assembly/tables/fib.ts', doc: 'the routing table: hash slots keyed by prefix and length, and route records',
    consts: ['SLOT', 'S_ROUTE', 'OCCUPIED', 'KEY_PREFIX_SHIFT', 'REC', 'R_KIND', 'R_NEXT_HOP', 'R_VTEP_MAC'] },
  { name: 'Neighbors', file: 'assembly/tables/neighbors.ts', doc: 'the neighbour table (IPv4 -> MAC)',
    consts: ['SLOT', 'O_MAC', 'OCCUPIED'] },
  { name: 'Services', file: 'assembly/tables/services.ts', doc: 'Service frontends (hash slots) and each Service\'s header and backends',
    consts: ['FSLOT', 'F_REF', 'KEY_VIP_SHIFT', 'KEY_PORT_SHIFT', 'SVC_HDR', 'H_COUNT', 'H_FLAGS', 'H_AFFINITY_MS', 'BACKEND', 'B_IP', 'B_PORT',
      'SVC_MASQUERADE', 'SVC_DROP_EMPTY', 'SVC_MAGLEV'] },
  { name: 'Conntrack', file: 'assembly/tables/conntrack.ts', doc: 'connection-tracking entries, their tuples and flags',
    consts: ['ENTRY', 'O_ORIG', 'O_REPLY', 'O_PROTO', 'O_STATE', 'O_FLAGS', 'O_SEEN', 'T_SRC', 'T_DST', 'T_SPORT', 'T_DPORT',
      'F_LIVE', 'F_SEEN_REPLY', 'F_ASSURED', 'F_TCLASS', 'F_TCLASS_SHIFT', 'PROTO_ICMP', 'PROTO_TCP', 'PROTO_UDP'] },
  { name: 'Maglev', file: 'assembly/tables/maglev.ts', doc: 'a Service\'s Maglev table: MAGLEV_M u16 backend indices',
    consts: ['MAGLEV_M'] },
  { name: 'Trace', file: 'assembly/trace.ts', doc: 'decision-trace records (fields a..f are u32s from R_A on)',
    consts: ['RECORD', 'R_SEQ', 'R_STEP', 'R_CODE', 'R_A'] },
];
/** `const enum`s, emitted under their own names. */
const ENUMS: { file: string; names: string[] }[] = [
  { file: 'assembly/node.ts', names: ['Overlay'] },
  { file: 'assembly/tables/fib.ts', names: ['RouteKind'] },
  { file: 'assembly/tables/conntrack.ts', names: ['CtState'] },
  { file: 'assembly/counters.ts', names: ['Drop'] },
  { file: 'assembly/trace.ts', names: ['Step', 'Choice', 'Nat', 'MtuVerdict'] },
];
/** String array literals, emitted as readonly tuples. */
const STRING_LISTS: { file: string; name: string; as: string }[] = [
  { file: 'assembly/trace.ts', name: 'STEP_NAMES', as: 'TRACE_STEP_NAMES' },
];

const WIDTH: Record<string, { bits: bigint; signed: boolean }> = {
  u8: { bits: 8n, signed: false }, u16: { bits: 16n, signed: false }, u32: { bits: 32n, signed: false },
  usize: { bits: 32n, signed: false }, u64: { bits: 64n, signed: false },
  i8: { bits: 8n, signed: true }, i16: { bits: 16n, signed: true }, i32: { bits: 32n, signed: true },
  isize: { bits: 32n, signed: true }, i64: { bits: 64n, signed: true },
};

function wrap(v: bigint, type: string, where: string): bigint {
  const w = WIDTH[type];
  if (!w) throw new Error(`${where}: type ${type} is not an integer type the layout generator knows`);
  return w.signed ? BigInt.asIntN(Number(w.bits), v) : BigInt.asUintN(Number(w.bits), v);
}

/** An integer expression of literals and names already known in this file. */
function evaluate(e: ts.Expression, known: Map<string, bigint>, where: string): bigint {
  if (ts.isNumericLiteral(e)) return BigInt(e.text.replace(/_/g, ''));
  if (ts.isParenthesizedExpression(e)) return evaluate(e.expression, known, where);
  if (ts.isTypeAssertionExpression(e) || ts.isAsExpression(e)) return evaluate(e.expression, known, where);
  if (ts.isIdentifier(e)) {
    const v = known.get(e.text);
    if (v === undefined) throw new Error(`${where}: ${e.text} is not a constant defined earlier in the same file`);
    return v;
  }
  if (ts.isPropertyAccessExpression(e) && ts.isIdentifier(e.expression)) {
    const v = known.get(`${e.expression.text}.${e.name.text}`);
    if (v === undefined) throw new Error(`${where}: ${e.getText()} is not known`);
    return v;
  }
  if (ts.isPrefixUnaryExpression(e)) {
    const v = evaluate(e.operand, known, where);
    if (e.operator === ts.SyntaxKind.MinusToken) return -v;
    if (e.operator === ts.SyntaxKind.TildeToken) return ~v;
    if (e.operator === ts.SyntaxKind.PlusToken) return v;
  }
  if (ts.isBinaryExpression(e)) {
    const a = evaluate(e.left, known, where);
    const b = evaluate(e.right, known, where);
    switch (e.operatorToken.kind) {
      case ts.SyntaxKind.PlusToken: return a + b;
      case ts.SyntaxKind.MinusToken: return a - b;
      case ts.SyntaxKind.AsteriskToken: return a * b;
      case ts.SyntaxKind.LessThanLessThanToken: return a << b;
      case ts.SyntaxKind.GreaterThanGreaterThanToken: return a >> b;
      case ts.SyntaxKind.BarToken: return a | b;
      case ts.SyntaxKind.AmpersandToken: return a & b;
      default: break;
    }
  }
  throw new Error(`${where}: cannot evaluate \`${e.getText()}\` (only integer literals, earlier names, + - * << >> | & ~)`);
}

interface Parsed { consts: Map<string, bigint>; enums: Map<string, [string, bigint][]>; strings: Map<string, string[]> }

function parse(file: string): Parsed {
  const text = readFileSync(resolve(ROOT, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Parsed = { consts: new Map(), enums: new Map(), strings: new Map() };
  const known = new Map<string, bigint>();
  for (const st of sf.statements) {
    if (ts.isEnumDeclaration(st)) {
      const members: [string, bigint][] = [];
      let next = 0n;
      for (const m of st.members) {
        const name = m.name.getText(sf);
        const where = `${file}: ${st.name.text}.${name}`;
        const v = m.initializer ? evaluate(m.initializer, new Map([...known, ...members.map(([k, x]) => [k, x] as [string, bigint])]), where) : next;
        members.push([name, wrap(v, 'i32', where)]);
        known.set(`${st.name.text}.${name}`, v);
        next = v + 1n;
      }
      out.enums.set(st.name.text, members);
      continue;
    }
    if (!ts.isVariableStatement(st) || !(st.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const d of st.declarationList.declarations) {
      if (!ts.isIdentifier(d.name) || !d.initializer) continue;
      const name = d.name.text;
      const type = d.type?.getText(sf) ?? '';
      if (ts.isArrayLiteralExpression(d.initializer) && d.initializer.elements.every(ts.isStringLiteral)) {
        out.strings.set(name, d.initializer.elements.map((s) => (s as ts.StringLiteral).text));
        continue;
      }
      if (!(type in WIDTH)) continue; // not an integer constant: nothing the layout shares
      try {
        const v = wrap(evaluate(d.initializer, known, `${file}: ${name}`), type, `${file}: ${name}`);
        known.set(name, v);
        out.consts.set(name, v);
      } catch {
        // a constant the layout does not list may be something else (asked for, it is an error below)
      }
    }
  }
  return out;
}

function literal(v: bigint, type64: boolean): string {
  if (type64 || v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) return v >= 0x10000n ? `0x${v.toString(16)}n` : `${v}n`;
  return v >= 0x10000n ? `0x${v.toString(16)}` : v.toString();
}

/** The text of src/dataplane/layout.ts as the assembly/ sources define it now. */
export function renderLayout(): string {
  const cache = new Map<string, Parsed>();
  const get = (file: string) => cache.get(file) ?? (cache.set(file, parse(file)), cache.get(file)!);
  const typeOf = (file: string, name: string): string => {
    const sf = ts.createSourceFile(file, readFileSync(resolve(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
    for (const st of sf.statements) {
      if (!ts.isVariableStatement(st)) continue;
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name) && d.name.text === name) return d.type?.getText(sf) ?? '';
    }
    return '';
  };
  const lines: string[] = [
    '// Generated by scripts/gen-layout.ts from the assembly/ files named below: do not edit.',
    '// `npm run build` regenerates it; test/dataplane/layout.test.ts fails when it is stale.',
    '// The WebAssembly memory layout (sizes, byte offsets, key shifts, flag bits) and the',
    '// enums the control plane shares with the data plane. Typed views over memory use',
    '// these in src/dataplane/memory-views.ts; names for the enums are in kinds.ts.',
    '',
  ];
  for (const g of CONSTS) {
    const p = get(g.file);
    lines.push(`/** ${g.file}: ${g.doc} */`, `export const ${g.name} = {`);
    for (const c of g.consts) {
      const v = p.consts.get(c);
      if (v === undefined) throw new Error(`${g.file}: no integer constant ${c} (listed for ${g.name} in scripts/gen-layout.ts)`);
      lines.push(`  ${c}: ${literal(v, /64$/.test(typeOf(g.file, c)))},`);
    }
    lines.push('} as const;', '');
  }
  for (const e of ENUMS) {
    const p = get(e.file);
    for (const name of e.names) {
      const members = p.enums.get(name);
      if (!members) throw new Error(`${e.file}: no enum ${name} (listed in scripts/gen-layout.ts)`);
      lines.push(`/** ${e.file}: enum ${name} */`, `export const ${name} = {`);
      for (const [m, v] of members) lines.push(`  ${m}: ${literal(v, false)},`);
      lines.push('} as const;', `export type ${name} = (typeof ${name})[keyof typeof ${name}];`, '');
    }
  }
  for (const s of STRING_LISTS) {
    const list = get(s.file).strings.get(s.name);
    if (!list) throw new Error(`${s.file}: no string list ${s.name} (listed in scripts/gen-layout.ts)`);
    lines.push(`/** ${s.file}: ${s.name} */`, `export const ${s.as} = [`);
    for (let i = 0; i < list.length; i += 6) lines.push(`  ${list.slice(i, i + 6).map((x) => `'${x}'`).join(', ')},`);
    lines.push('] as const;', '');
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = renderLayout();
  const path = resolve(ROOT, OUT);
  let old = '';
  try { old = readFileSync(path, 'utf8'); } catch { /* first run */ }
  if (old !== text) writeFileSync(path, text);
  console.log(`${OUT}: ${old === text ? 'up to date' : 'written'}`);
}
