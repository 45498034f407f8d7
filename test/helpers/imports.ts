import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** One relative import in src/: from which file, to which file, and whether it is `import type` only. */
export interface ImportEdge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Pure: the relative imports and re-exports in `source` (static and `import()`), with their specifiers. */
export function importsOf(source: string): { spec: string; typeOnly: boolean }[] {
  const out: { spec: string; typeOnly: boolean }[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm)) out.push({ spec: m[2], typeOnly: Boolean(m[1]) });
  for (const m of source.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)) out.push({ spec: m[1], typeOnly: false });
  return out;
}

/** Every relative import between the files under `root` (paths relative to `root`, .js specifiers read as .ts). */
export function importGraph(root: string): ImportEdge[] {
  return tsFiles(root).flatMap((file) =>
    importsOf(readFileSync(file, 'utf8')).map(({ spec, typeOnly }) => ({
      from: path.relative(root, file),
      to: path.relative(root, path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts')),
      typeOnly,
    })),
  );
}

/** The top folder of a path under src/ ("pipeline" for pipeline/engines/x.ts); files at the top are "(root)". */
export function folderOf(file: string): string {
  const parts = file.split(path.sep);
  return parts.length === 1 ? '(root)' : parts[0];
}

/** Pure: the strongly connected sets of more than one node (each a cycle or several), by Tarjan's algorithm. */
export function cyclesOf(edges: readonly [string, string][]): string[][] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) next.set(a, [...(next.get(a) ?? []), b]);
  const nodes = [...new Set(edges.flat())].sort();
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const set: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        set.push(w);
      } while (w !== v);
      if (set.length > 1) found.push(set.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return found;
}
