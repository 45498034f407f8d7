import { readdirSync, readFileSync } from 'node:fs';

/**
 * Command lines of the running processes, read from /proc (no `ps`: a minimal system may lack it).
 * Each entry is the arguments joined by spaces.
 */
export function processCommandLines(): Array<{ pid: number; args: string; zombie: boolean }> {
  const out: Array<{ pid: number; args: string; zombie: boolean }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const raw = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      out.push({ pid: Number(name), args: raw.split('\0').filter(Boolean).join(' '), zombie: state === 'Z' });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}
