import type { FetchLike } from './download.js';

/** Fetches `spec`'s tarball into `destDir` (never installs it) and returns the tarball's path. */
export type NpmPack = (spec: string, destDir: string, signal?: AbortSignal) => Promise<string>;

export interface ProvisionContext {
  log: (msg: string) => void;
  fetchImpl?: FetchLike;
  npmPack?: NpmPack;
  /** Checkout root that holds tools/; tests point it at a temp dir. */
  root?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Which binary to take from the archives; defaults to this machine's. */
  platform?: NodeJS.Platform;
  arch?: string;
}

export type StepStatus = 'present' | 'installed' | 'failed';

export interface StepResult {
  name: string;
  status: StepStatus;
  /** Required by the engines the config selects: a failure then makes the whole run fail. */
  required: boolean;
  detail: string;
  fix?: string;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
