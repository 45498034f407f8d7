/** The machine the bench ran on, and how much of its CPU other work took meanwhile. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Config } from '../config/schema.js';
import { isCpuVulkanDevice, pickVulkanDevice, vulkanDeviceList } from '../machine/tools.js';

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

export async function vulkanInfo(config: Config): Promise<{ vulkan: string; gpu: boolean }> {
  const device = pickVulkanDevice(await vulkanDeviceList().catch(() => []), config.upscale.realesrgan.gpu);
  if (!device) return { vulkan: 'none found (vulkaninfo missing or no device)', gpu: false };
  return { vulkan: `${device.name}${device.type ? ` (${device.type})` : ''}`, gpu: !isCpuVulkanDevice(device) };
}

const TICKS = 100; // USER_HZ on Linux

/** Pure: busy CPU seconds of the whole machine since boot, from /proc/stat's first line. */
export function machineBusySeconds(procStat: string): number {
  const f = procStat.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const busy = f.slice(0, 8).reduce((t, v, i) => (i === 3 || i === 4 ? t : t + v), 0);
  return busy / TICKS;
}

/** Pure: CPU seconds of a process plus its waited-for children, from /proc/<pid>/stat. */
export function selfAndChildrenSeconds(pidStat: string): number {
  const f = pidStat.slice(pidStat.lastIndexOf(')') + 2).split(' ').map(Number);
  // fields 14..17 of stat (utime stime cutime cstime) are 11..14 after the command name.
  return (f[11] + f[12] + f[13] + f[14]) / TICKS;
}

export interface CpuAccount {
  benchCpuS: number;
  otherCpuS: number;
}

/** Starts counting; the returned function says how the machine's CPU time was shared since. */
export function startCpuAccount(): () => CpuAccount | null {
  const read = () => {
    try {
      return { machine: machineBusySeconds(readFileSync('/proc/stat', 'utf8')), self: selfAndChildrenSeconds(readFileSync('/proc/self/stat', 'utf8')) };
    } catch {
      return null;
    }
  };
  const start = read();
  return () => {
    const end = read();
    if (!start || !end) return null;
    const benchCpuS = end.self - start.self;
    return { benchCpuS, otherCpuS: Math.max(0, end.machine - start.machine - benchCpuS) };
  };
}
