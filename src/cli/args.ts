import { parseArgs } from 'node:util';

/** What the command line asked for; parsing is pure so that every error message is unit-tested. */
export type Command =
  | { kind: 'enhance'; inputs: string[]; opts: EnhanceFlags }
  | { kind: 'recompose'; cutouts: string[]; opts: RecomposeFlags }
  | { kind: 'doctor'; json: boolean }
  | { kind: 'backgrounds'; json: boolean }
  | { kind: 'provision' }
  | { kind: 'start'; config?: string }
  | { kind: 'submit'; file: string; opts: SubmitFlags }
  | { kind: 'jobs'; json: boolean; config?: string }
  | { kind: 'cancel'; ids: string[]; config?: string }
  | { kind: 'help'; topic?: string }
  | { kind: 'version' };

export interface CommonFlags {
  out: string;
  json: boolean;
  bg?: string;
  lang?: string;
  config?: string;
}

export interface EnhanceFlags extends CommonFlags {
  scale?: 1 | 2 | 3 | 4;
  upscaler?: 'realesrgan' | 'onnx' | 'ffmpeg' | 'none';
  model?: 'general' | 'anime';
  edges?: 'unmix' | 'fusion' | 'off';
  matting?: 'rvm' | 'command' | 'none';
  keepCutout: boolean;
}

export type RecomposeFlags = CommonFlags;

export interface SubmitFlags extends Omit<EnhanceFlags, 'out'> {
  wait: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

const common = {
  bg: { type: 'string' },
  out: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  lang: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;
type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };

/** Options shared by `enhance` and `submit`: how a job is run. */
const jobOptions = {
  ...common,
  scale: { type: 'string', short: 's' },
  upscaler: { type: 'string' },
  model: { type: 'string' },
  edges: { type: 'string' },
  matting: { type: 'string' },
  'keep-cutout': { type: 'boolean' },
} as const;

function jobFlags(v: Parsed['values']): Omit<EnhanceFlags, 'out'> {
  const scale = oneOf('scale', v.scale as string | undefined, ['1', '2', '3', '4']);
  return {
    json: Boolean(v.json),
    bg: v.bg as string | undefined,
    lang: v.lang as string | undefined,
    config: v.config as string | undefined,
    scale: scale ? (Number(scale) as 1 | 2 | 3 | 4) : undefined,
    upscaler: oneOf('upscaler', v.upscaler as string | undefined, ['realesrgan', 'onnx', 'ffmpeg', 'none']),
    model: oneOf('model', v.model as string | undefined, ['general', 'anime']),
    edges: oneOf('edges', v.edges as string | undefined, ['unmix', 'fusion', 'off']),
    matting: oneOf('matting', v.matting as string | undefined, ['rvm', 'command', 'none']),
    keepCutout: Boolean(v['keep-cutout']),
  };
}

function parse(argv: string[], options: Options): Parsed {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as Parsed;
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^TypeError \[\w+\]: /, ''));
  }
}

export function parseCommand(argv: string[]): Command {
  const [name, ...rest] = argv;
  switch (name) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { kind: 'help', topic: rest[0] };
    case '--version':
    case '-v':
    case 'version':
      return { kind: 'version' };
    case 'enhance': {
      const { values: v, positionals } = parse(rest, jobOptions);
      if (v.help) return { kind: 'help', topic: 'enhance' };
      if (positionals.length === 0) throw new UsageError('enhance needs at least one video file or folder');
      return { kind: 'enhance', inputs: positionals, opts: { out: (v.out as string | undefined) ?? 'out', ...jobFlags(v) } };
    }
    case 'recompose': {
      const { values: v, positionals } = parse(rest, common);
      if (v.help) return { kind: 'help', topic: 'recompose' };
      if (positionals.length === 0) throw new UsageError('recompose needs a cut-out file (made by enhance --keep-cutout)');
      if (!v.bg) throw new UsageError('recompose needs --bg NAME|PATH|#RRGGBB');
      return {
        kind: 'recompose',
        cutouts: positionals,
        opts: { out: (v.out as string | undefined) ?? 'out', json: Boolean(v.json), bg: v.bg as string, lang: v.lang as string | undefined, config: v.config as string | undefined },
      };
    }
    case 'doctor':
    case 'backgrounds': {
      const { values: v } = parse(rest, { json: { type: 'boolean' }, config: { type: 'string' } });
      return { kind: name, json: Boolean(v.json) };
    }
    case 'provision':
      return { kind: 'provision' };
    case 'start': {
      const { values: v } = parse(rest, { config: { type: 'string' } });
      return { kind: 'start', config: v.config as string | undefined };
    }
    case 'submit': {
      const { values: v, positionals } = parse(rest, { ...jobOptions, wait: { type: 'boolean', short: 'w' } });
      if (v.help) return { kind: 'help', topic: 'submit' };
      if (positionals.length !== 1) throw new UsageError('submit takes exactly one video file');
      return { kind: 'submit', file: positionals[0], opts: { ...jobFlags(v), wait: Boolean(v.wait) } };
    }
    case 'jobs': {
      const { values: v } = parse(rest, { json: { type: 'boolean' }, config: { type: 'string' } });
      return { kind: 'jobs', json: Boolean(v.json), config: v.config as string | undefined };
    }
    case 'cancel': {
      const { values: v, positionals } = parse(rest, { config: { type: 'string' } });
      if (positionals.length === 0) throw new UsageError('cancel needs a job id (see `dancelift jobs`)');
      return { kind: 'cancel', ids: positionals, config: v.config as string | undefined };
    }
    default:
      throw new UsageError(`unknown command "${name}" (try: enhance, recompose, start, submit, jobs, cancel, doctor, backgrounds, provision, help)`);
  }
}

export const HELP = `dancelift — sharpen, cut out and re-background dance videos

Usage:
  dancelift enhance <file|folder>... [--bg NAME|PATH|#RRGGBB] [--scale 1|2|3|4]
                    [--upscaler realesrgan|onnx|ffmpeg|none] [--model general|anime]
                    [--matting rvm|command|none] [--edges unmix|fusion|off]
                    [--out DIR] [--keep-cutout] [--json]
  dancelift recompose <cutout.mkv>... --bg NAME|PATH|#RRGGBB [--out DIR] [--json]
  dancelift start                    run the service: roles from config or DANCELIFT_ROLES (bots,worker,web)
  dancelift submit <file> [--bg ...] [--scale N] [--wait] [--json]
                                     put a job on the running service's queue (and follow it)
  dancelift jobs [--json]            the queue: state, position, progress, requester
  dancelift cancel <id>...           remove a waiting job or stop a running one
  dancelift backgrounds [--json]     list the background library
  dancelift doctor [--json]          check tools, models and devices
  dancelift provision                install realesrgan-ncnn-vulkan and the RVM model into tools/,
                                     and convert the upscaler's models to ONNX (--upscaler onnx)

Options:
  --bg          background: a library name (see \`dancelift backgrounds\`), an image or video file,
                or a colour such as #00b140 (default: config backgrounds.default)
  --scale       upscale factor (default 2; 1 = no upscaling)
  --model       the upscaler's model: general (real people, default) or anime (config upscale.model)
  --edges       clean the old background out of the dancer's edges: fusion (default), unmix, or off
  --out, -o     output folder (default ./out); the video is written as <name>.enhanced.mp4
  --keep-cutout also keep <name>.cutout.mkv (dancer + alpha + audio) for a fast \`recompose\`
  --json        one JSON result line per input on stdout, nothing else there
  --lang        en or zh for messages (default from LANG)
  --config      an extra YAML config file (see config/default.yaml)
`;
