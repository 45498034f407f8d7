import { concurrencyFromVram, freeVramMiB, JOB_VRAM_MIB, jobVramMiB } from './concurrency.js';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { configSchema, type Config } from './schema.js';

import { packageRoot } from '../paths.js';

export { packageRoot };

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isTree(v) && isTree(out[k]) ? deepMerge(out[k] as Tree, v) : v;
  }
  return out;
}

/** Environment variables a user may set, and the config path each one overrides. */
export const envOverrides: Record<string, { path: string[]; parse?: (v: string) => unknown }> = {
  DANCELIFT_DATA_DIR: { path: ['dataDir'] },
  DANCELIFT_UPSCALER: { path: ['upscale', 'engine'] },
  DANCELIFT_UPSCALE_MODEL: { path: ['upscale', 'model'] },
  DANCELIFT_SCALE: { path: ['upscale', 'scale'], parse: Number },
  DANCELIFT_REALESRGAN: { path: ['upscale', 'realesrgan', 'binary'] },
  DANCELIFT_REALESRGAN_ON_CPU: { path: ['upscale', 'realesrgan', 'onCpuDriver'] },
  DANCELIFT_FRAMES_PER_CALL: { path: ['upscale', 'realesrgan', 'framesPerCall'], parse: (v) => (v === 'auto' ? v : Number(v)) },
  DANCELIFT_REALESRGAN_TILE: { path: ['upscale', 'realesrgan', 'tile'], parse: Number },
  DANCELIFT_ONNX_UPSCALE_TILE: { path: ['upscale', 'onnx', 'tile'], parse: Number },
  DANCELIFT_MATTING: { path: ['matte', 'engine'] },
  DANCELIFT_RVM_MODEL: { path: ['matte', 'rvm', 'model'] },
  DANCELIFT_MATTING_MODEL: { path: ['matte', 'rvm', 'variant'] },
  DANCELIFT_RVM_RATIO: { path: ['matte', 'rvm', 'downsampleRatio'], parse: (v) => (v === 'auto' ? v : Number(v)) },
  DANCELIFT_ORT_PROVIDERS: { path: ['matte', 'rvm', 'providers'], parse: (v) => v.split(',').map((s) => s.trim()) },
  DANCELIFT_MATTE_COMMAND: { path: ['matte', 'command', 'template'] },
  DANCELIFT_EDGES: { path: ['matte', 'edges'] },
  DANCELIFT_MAX_SHORT_SIDE: { path: ['pipeline', 'maxInputShortSide'], parse: Number },
  DANCELIFT_MAX_DURATION_S: { path: ['pipeline', 'maxDurationS'], parse: Number },
  DANCELIFT_CHUNK_FRAMES: { path: ['pipeline', 'chunkFrames'], parse: Number },
  DANCELIFT_TEMP_DIR: { path: ['pipeline', 'tempDir'] },
  DANCELIFT_ENCODER: { path: ['encode', 'codec'] },
  DANCELIFT_BACKGROUNDS_DIR: { path: ['backgrounds', 'dir'] },
  DANCELIFT_BACKGROUNDS_SIZE: { path: ['backgrounds', 'size'], parse: Number },
  DANCELIFT_CACHE_GB: { path: ['storage', 'cacheGb'], parse: Number },
  DANCELIFT_ROLES: { path: ['roles'], parse: (v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
  REDIS_URL: { path: ['redis', 'url'] },
  DANCELIFT_REDIS_PORT: { path: ['redis', 'port'], parse: Number },
  DANCELIFT_QUEUE_PREFIX: { path: ['queue', 'prefix'] },
  DANCELIFT_CONCURRENCY: { path: ['queue', 'concurrency'], parse: (v) => (v === 'auto' ? v : Number(v)) },
  DANCELIFT_LOCK_MS: { path: ['queue', 'lockDurationMs'], parse: Number },
  DANCELIFT_STALLED_MS: { path: ['queue', 'stalledIntervalMs'], parse: Number },
  DANCELIFT_BACKOFF_MS: { path: ['queue', 'backoffMs'], parse: Number },
  DANCELIFT_HTTP_PORT: { path: ['web', 'port'], parse: Number },
  PUBLIC_BASE_URL: { path: ['web', 'publicBaseUrl'] },
  DANCELIFT_LINK_SECRET: { path: ['web', 'linkSecret'] },
  DANCELIFT_ADMIN_TOKEN: { path: ['web', 'admin', 'token'] },
  DANCELIFT_ADMIN_USER: { path: ['web', 'admin', 'user'] },
  DANCELIFT_ADMIN_PASSWORD: { path: ['web', 'admin', 'password'] },
  DANCELIFT_ADMIN_READ_ONLY: { path: ['web', 'readOnlyAdmin'], parse: (v) => !/^(0|false|no|off)$/i.test(v.trim()) },
  TELEGRAM_BOT_TOKEN: { path: ['telegram', 'token'] },
  // grammY wants the root without a trailing slash.
  TELEGRAM_API_ROOT: { path: ['telegram', 'apiRoot'], parse: (v) => v.replace(/\/+$/, '') },
  TELEGRAM_UPLOAD_LIMIT_MB: { path: ['telegram', 'uploadLimitMb'], parse: Number },
  TELEGRAM_DOWNLOAD_LIMIT_MB: { path: ['telegram', 'downloadLimitMb'], parse: Number },
  TELEGRAM_ADMINS: { path: ['telegram', 'admins'], parse: (v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
  TELEGRAM_LOCAL_MODE: { path: ['telegram', 'localMode'], parse: (v) => /^(1|true|yes|on)$/i.test(v.trim()) },
  DISCORD_TOKEN: { path: ['discord', 'token'] },
  DISCORD_GUILD_IDS: { path: ['discord', 'guildIds'], parse: (v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
  // discord.js appends /v10 itself.
  DISCORD_API_URL: { path: ['discord', 'apiUrl'], parse: (v) => v.replace(/\/+$/, '') },
  DISCORD_UPLOAD_LIMIT_MB: { path: ['discord', 'uploadLimitMb'], parse: Number },
  DISCORD_DOWNLOAD_LIMIT_MB: { path: ['discord', 'downloadLimitMb'], parse: Number },
};

export function applyEnv(tree: Tree, env: NodeJS.ProcessEnv): Tree {
  let out = tree;
  for (const [name, { path: keys, parse }] of Object.entries(envOverrides)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let patch: unknown = parse ? parse(raw) : raw;
    for (const k of [...keys].reverse()) patch = { [k]: patch };
    out = deepMerge(out, patch as Tree);
  }
  return out;
}

/** `queue.concurrency: auto` → a number from the GPU's free memory and the configured engines' needs. */
function resolveAutoConcurrency(tree: Tree): Tree {
  const queue = tree.queue;
  if (!isTree(queue) || queue.concurrency !== 'auto') return tree;
  const up = isTree(tree.upscale) ? tree.upscale.engine : undefined;
  const matte = isTree(tree.matte) ? tree.matte.engine : undefined;
  const known = <T extends object>(o: T, k: unknown): k is keyof T => typeof k === 'string' && k in o;
  const perJob = known(JOB_VRAM_MIB.upscale, up) && known(JOB_VRAM_MIB.matte, matte) ? jobVramMiB(up, matte) : 0;
  return { ...tree, queue: { ...queue, concurrency: concurrencyFromVram(freeVramMiB(), perJob) } };
}

function readYaml(file: string): Tree {
  const parsed: unknown = YAML.parse(readFileSync(file, 'utf8'));
  if (parsed === null || parsed === undefined) return {};
  if (!isTree(parsed)) throw new Error(`${file}: expected a mapping at the top level`);
  return parsed;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra YAML file, e.g. from --config or DANCELIFT_CONFIG. */
  file?: string;
  root?: string;
}

/** default.yaml ← local.yaml ← --config file ← env; validated once, paths made absolute. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const root = opts.root ?? packageRoot;
  let tree = readYaml(path.join(root, 'config', 'default.yaml'));
  const local = path.join(root, 'config', 'local.yaml');
  if (existsSync(local)) tree = deepMerge(tree, readYaml(local));
  const extra = opts.file ?? env.DANCELIFT_CONFIG;
  if (extra) tree = deepMerge(tree, readYaml(extra));
  tree = applyEnv(tree, env);
  tree = resolveAutoConcurrency(tree);
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  config.dataDir = path.resolve(root, config.dataDir);
  return config;
}
