/**
 * What `nvidia-smi` says about the NVIDIA GPUs: for the stats, the encoder choice, the queue's
 * concurrency and doctor. A machine without the driver has no nvidia-smi: that is null, not an error.
 */
import { execa, execaSync } from 'execa';

export interface NvidiaGpu {
  index: number;
  name: string;
  driver: string;
  memoryTotalMiB: number;
  memoryFreeMiB: number;
}

export const NVIDIA_SMI_ARGS = ['--query-gpu=index,name,driver_version,memory.total,memory.free', '--format=csv,noheader,nounits'];

/** Pure: `nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.free --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): NvidiaGpu[] {
  const gpus: NvidiaGpu[] = [];
  for (const line of csv.split('\n')) {
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 5 || !/^\d+$/.test(f[0])) continue;
    const total = Number(f[3]);
    const free = Number(f[4]);
    if (!Number.isFinite(total) || !Number.isFinite(free)) continue;
    gpus.push({ index: Number(f[0]), name: f[1], driver: f[2], memoryTotalMiB: total, memoryFreeMiB: free });
  }
  return gpus;
}

/** The GPUs, or null when nvidia-smi is missing or fails (no NVIDIA driver). */
export async function nvidiaGpus(bin = 'nvidia-smi'): Promise<NvidiaGpu[] | null> {
  const r = await execa(bin, NVIDIA_SMI_ARGS, { reject: false, timeout: 15_000 }).catch(() => null);
  if (!r || r.exitCode !== 0) return null;
  const gpus = parseNvidiaSmi(String(r.stdout));
  return gpus.length ? gpus : null;
}

/** The same, synchronously: for resolving configuration defaults, which happens once at start-up. */
export function nvidiaGpusSync(bin = 'nvidia-smi'): NvidiaGpu[] | null {
  try {
    const r = execaSync(bin, NVIDIA_SMI_ARGS, { reject: false, timeout: 15_000 });
    if (r.exitCode !== 0) return null;
    const gpus = parseNvidiaSmi(String(r.stdout));
    return gpus.length ? gpus : null;
  } catch {
    return null;
  }
}
