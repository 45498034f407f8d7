/**
 * What a side of the bench holds while it runs: bytes under its temp dirs and the resident memory
 * of its whole process tree (node plus the ffmpeg and realesrgan children), sampled from /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirBytes } from '../pipeline/tempdir.js';

const PAGE = 4096;

/** Pure: pid → parent pid, from the contents of /proc/<pid>/stat. */
export function parentOf(stat: string): number | null {
  // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : null;
}

/** Pure: the pids of `root` and all its descendants. */
export function treeOf(root: number, parents: Map<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

function readOr(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null; // the process ended between listing and reading
  }
}

/** Resident bytes of `root` and its descendants now; 0 where /proc is missing. */
export function treeRssBytes(root: number): number {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return 0;
  }
  const parents = new Map<number, number>();
  for (const p of pids) {
    const stat = readOr(`/proc/${p}/stat`);
    const ppid = stat ? parentOf(stat) : null;
    if (ppid !== null) parents.set(Number(p), ppid);
  }
  let total = 0;
  for (const pid of treeOf(root, parents)) {
    const statm = readOr(`/proc/${pid}/statm`);
    if (statm) total += Number(statm.split(' ')[1]) * PAGE;
  }
  return total;
}

export interface Watch {
  stop(): Promise<{ peakTempBytes: number; peakRssBytes: number }>;
}

/** Samples the temp dirs every 100 ms and the process tree of `pid` every 250 ms until stopped. */
export function watchSide(pid: number, tempDirs: string[]): Watch {
  let peakTemp = 0;
  let peakRss = 0;
  let busy: Promise<void> = Promise.resolve();
  const temp = setInterval(() => {
    busy = busy.then(async () => {
      let sum = 0;
      for (const d of tempDirs) sum += await dirBytes(d);
      peakTemp = Math.max(peakTemp, sum);
    });
  }, 100);
  const rss = setInterval(() => {
    peakRss = Math.max(peakRss, treeRssBytes(pid));
  }, 250);
  return {
    async stop() {
      clearInterval(temp);
      clearInterval(rss);
      await busy;
      return { peakTempBytes: peakTemp, peakRssBytes: peakRss };
    },
  };
}
