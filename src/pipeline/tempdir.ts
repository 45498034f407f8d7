import { mkdir, mkdtemp, readdir, rm, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Where a run keeps its temp files. RAM (/dev/shm) when it has comfortably more room than the run
 * needs: the upscaler's PNG round trip is then a memory copy, and a crash leaves nothing on disk
 * after a reboot. Otherwise the OS temp dir.
 */
export async function chooseTempRoot(setting: string, neededBytes: number): Promise<string> {
  if (setting !== 'auto') return path.resolve(setting);
  const shm = '/dev/shm';
  try {
    const fs = await statfs(shm);
    if (fs.bavail * fs.bsize > neededBytes * 4) return shm;
  } catch {
    // no /dev/shm (macOS, Windows): fall through
  }
  return os.tmpdir();
}

/**
 * A fresh temp dir for one run. Dirs left by an earlier run of the same job (a worker killed with
 * SIGKILL cannot clean up) are removed first, so a job that runs again leaves no trace of the first.
 */
export async function makeRunDir(root: string, id: string): Promise<string> {
  await mkdir(root, { recursive: true });
  const prefix = `dancelift-${id.replace(/[^\w-]/g, '_')}-`;
  for (const name of await readdir(root)) {
    if (name.startsWith(prefix)) await rm(path.join(root, name), { recursive: true, force: true });
  }
  return mkdtemp(path.join(root, prefix));
}

/** Bytes held under `dir` right now (files only). */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else total += await stat(p).then((s) => s.size, () => 0);
  }
  return total;
}

/** Samples a directory's size while a run goes on and keeps the peak (reported in the stats). */
export function watchPeak(dir: string, everyMs = 100): { stop: () => Promise<number> } {
  let peak = 0;
  let busy: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    busy = busy.then(async () => {
      peak = Math.max(peak, await dirBytes(dir));
    });
  }, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await busy;
      return peak;
    },
  };
}
