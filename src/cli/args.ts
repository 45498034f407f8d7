import { parseArgs } from 'node:util';
import { RVM_VARIANTS, type RvmVariant } from '../machine/rvm-variants.js';
import { engineNames } from '../pipeline/engines/registry.js';

/** What the command line asked for; parsing is pure so that every error message is unit-tested. */
export type Command =
  | { kind: 'enhance'; inputs: string[]; opts: EnhanceFlags & EnhanceOnlyFlags }
  | { kind: 'recompose'; cutouts: string[]; opts: RecomposeFlags }
  | { kind: 'doctor'; json: boolean }
  | { kind: 'backgrounds'; json: boolean; config?: string }
  | { kind: 'backgrounds-generate'; prompt: string; opts: GenerateFlags }
  | { kind: 'provision'; mattingModel?: RvmVariant }
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
  upscaler?: string;
  model?: 'general' | 'anime';
  edges?: 'unmix' | 'fusion' | 'off';
  matting?: string;
  /** Which RVM network mattes this job (default: config matte.rvm.variant). */
  mattingModel?: RvmVariant;
  keepCutout: boolean;
}

export type RecomposeFlags = CommonFlags;

/** The look of the result beyond the four steps: a preview, reframing, a transparent export. */
export interface EnhanceOnlyFlags {
  /** `--export alpha`: also the dancer with alpha as <name>.alpha.webm (VP9) and .alpha.mov (ProRes 4444). */
  export?: 'alpha';
  /** Reframing; unset ones come from config.reframe. */
  aspect?: '9:16' | '1:1' | '4:5' | '16:9' | 'source';
  fit?: number;
  ground?: number;
  shadow?: boolean;
  /** `--preview SECONDS`: only the most active stretch, as <name>.preview.mp4. */
  preview?: number;
}

const enhanceOnlyOptions = {
  preview: { type: 'string' },
  export: { type: 'string' },
  aspect: { type: 'string' },
  fit: { type: 'string' },
  ground: { type: 'string' },
  shadow: { type: 'boolean' },
} as const;

/** "0.8" or "80%" → 0.8; a share of the frame height in (0, 1]. */
function share(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(value);
  const n = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(n > 0 && n <= 1)) throw new UsageError(`--${name} must be a share of the frame height, like 0.8 or 80% (got "${value}")`);
  return n;
}

function enhanceOnlyFlags(v: Parsed['values']): EnhanceOnlyFlags {
  const exp = oneOf('export', v.export as string | undefined, ['alpha']);
  const aspect = oneOf('aspect', v.aspect as string | undefined, ['9:16', '1:1', '4:5', '16:9', 'source']);
  const fit = share('fit', v.fit as string | undefined);
  const ground = share('ground', v.ground as string | undefined);
  let preview: number | undefined;
  if (v.preview !== undefined) {
    preview = Number(v.preview);
    if (!(preview > 0 && preview <= 60)) throw new UsageError(`--preview must be seconds between 0 and 60, like 5 (got "${v.preview as string}")`);
  }
  return {
    ...(preview !== undefined ? { preview } : {}),
    ...(exp ? { export: exp } : {}),
    ...(aspect ? { aspect } : {}),
    ...(fit !== undefined ? { fit } : {}),
    ...(ground !== undefined ? { ground } : {}),
    ...(v.shadow ? { shadow: true } : {}),
  };
}

export interface GenerateFlags {
  name: string;
  kind?: 'automatic1111' | 'comfyui';
  url?: string;
  /** Seconds of the Ken Burns loop; undefined = config backgrounds.generator.loopS. */
  loopS?: number;
  json: boolean;
  lang?: string;
  config?: string;
}

/** `backgrounds generate "PROMPT" --name NAME [--kind K] [--url URL] [--loop S]` */
function parseGenerate(rest: string[]): Command {
  const { values: v, positionals } = parse(rest, {
    name: { type: 'string', short: 'n' },
    kind: { type: 'string' },
    url: { type: 'string' },
    loop: { type: 'string' },
    json: { type: 'boolean' },
    lang: { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return { kind: 'help', topic: 'backgrounds' };
  if (positionals.length !== 1 || !positionals[0].trim()) throw new UsageError('backgrounds generate takes one prompt, in quotes: backgrounds generate "a neon city at night" --name city');
  if (!v.name) throw new UsageError('backgrounds generate needs --name NAME (the name it gets in the library)');
  let loopS: number | undefined;
  if (v.loop !== undefined) {
    loopS = Number(v.loop);
    if (!Number.isFinite(loopS) || loopS < 0 || loopS > 60) throw new UsageError(`--loop must be seconds between 0 and 60 (got "${v.loop as string}")`);
  }
  return {
    kind: 'backgrounds-generate',
    prompt: positionals[0].trim(),
    opts: {
      name: v.name as string,
      kind: oneOf('kind', v.kind as string | undefined, ['automatic1111', 'comfyui']),
      url: v.url as string | undefined,
      loopS,
      json: Boolean(v.json),
      lang: v.lang as string | undefined,
      config: v.config as string | undefined,
    },
  };
}

export interface SubmitFlags extends Omit<EnhanceFlags, 'out'>, EnhanceOnlyFlags {
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
  'matting-model': { type: 'string' },
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
    upscaler: oneOf('upscaler', v.upscaler as string | undefined, engineNames('upscale')),
    model: oneOf('model', v.model as string | undefined, ['general', 'anime']),
    edges: oneOf('edges', v.edges as string | undefined, ['unmix', 'fusion', 'off']),
    matting: oneOf('matting', v.matting as string | undefined, engineNames('matte')),
    mattingModel: oneOf('matting-model', v['matting-model'] as string | undefined, RVM_VARIANTS),
    keepCutout: Boolean(v['keep-cutout']),
  };
}

/** `enhance` and `submit` alike: how the job runs and what it makes, checked together. */
function lookFlags(v: Parsed['values']): Omit<EnhanceFlags, 'out'> & EnhanceOnlyFlags {
  const opts = { ...jobFlags(v), ...enhanceOnlyFlags(v) };
  if (opts.export === 'alpha' && opts.matting === 'none') throw new UsageError('--export alpha needs matting (it exports the cut-out dancer): drop --matting none');
  if ((opts.aspect || opts.fit || opts.ground || opts.shadow) && opts.matting === 'none') throw new UsageError('--aspect, --fit, --ground and --shadow follow the cut-out dancer: they need matting (drop --matting none)');
  return opts;
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
      const { values: v, positionals } = parse(rest, { ...jobOptions, ...enhanceOnlyOptions });
      if (v.help) return { kind: 'help', topic: 'enhance' };
      if (positionals.length === 0) throw new UsageError('enhance needs at least one video file or folder');
      return { kind: 'enhance', inputs: positionals, opts: { out: (v.out as string | undefined) ?? 'out', ...lookFlags(v) } };
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
    case 'doctor': {
      const { values: v } = parse(rest, { json: { type: 'boolean' }, config: { type: 'string' } });
      return { kind: name, json: Boolean(v.json) };
    }
    case 'backgrounds': {
      if (rest[0] === 'generate') return parseGenerate(rest.slice(1));
      const { values: v, positionals } = parse(rest, { json: { type: 'boolean' }, config: { type: 'string' } });
      if (positionals.length > 0) throw new UsageError(`unknown backgrounds command "${positionals[0]}" (try: backgrounds [--json], backgrounds generate "PROMPT" --name NAME)`);
      return { kind: 'backgrounds', json: Boolean(v.json), config: v.config as string | undefined };
    }
    case 'provision': {
      const { values: v } = parse(rest, { 'matting-model': { type: 'string' } });
      return { kind: 'provision', mattingModel: oneOf('matting-model', v['matting-model'] as string | undefined, RVM_VARIANTS) };
    }
    case 'start': {
      const { values: v } = parse(rest, { config: { type: 'string' } });
      return { kind: 'start', config: v.config as string | undefined };
    }
    case 'submit': {
      const { values: v, positionals } = parse(rest, { ...jobOptions, ...enhanceOnlyOptions, wait: { type: 'boolean', short: 'w' } });
      if (v.help) return { kind: 'help', topic: 'submit' };
      if (positionals.length !== 1) throw new UsageError('submit takes exactly one video file');
      return { kind: 'submit', file: positionals[0], opts: { ...lookFlags(v), wait: Boolean(v.wait) } };
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

/** The usage text; a function so that it lists the engines registered by then. */
export const help = (): string => `dancelift — sharpen, cut out and re-background dance videos

Usage:
  dancelift enhance <file|folder>... [--bg NAME|PATH|#RRGGBB] [--scale 1|2|3|4]
                    [--upscaler ${engineNames('upscale').join('|')}] [--model general|anime]
                    [--matting ${engineNames('matte').join('|')}] [--edges unmix|fusion|off]
                    [--matting-model mobilenetv3|resnet50]
                    [--aspect 9:16|1:1|4:5|16:9|source] [--fit SHARE] [--ground SHARE] [--shadow]
                    [--preview SECONDS] [--out DIR] [--keep-cutout] [--export alpha] [--json]
  dancelift recompose <cutout.mkv>... --bg NAME|PATH|#RRGGBB [--out DIR] [--json]
  dancelift start                    run the service: roles from config or DANCELIFT_ROLES (bots,worker,web)
  dancelift submit <file> [--bg ...] [--scale N] [--preview S] [--aspect A] [--fit F] [--ground G]
                    [--shadow] [--export alpha] [--keep-cutout] [--wait] [--json]
                                     put a job on the running service's queue (and follow it);
                                     previews go ahead of full jobs, and a repeat of a finished job
                                     (same file, same settings) answers at once, marked reused
  dancelift jobs [--json]            the queue: state, position, progress, requester
  dancelift cancel <id>...           remove a waiting job or stop a running one
  dancelift backgrounds [--json]     list the background library
  dancelift backgrounds generate "PROMPT" --name NAME [--kind automatic1111|comfyui] [--url URL]
                    [--loop SECONDS] [--json]
                                     a picture from your Stable Diffusion server (AUTOMATIC1111/Forge
                                     or ComfyUI) added to the library; --loop also makes NAME-loop,
                                     a slow pan video (config backgrounds.generator)
  dancelift doctor [--json]          check tools, models and devices
  dancelift provision [--matting-model mobilenetv3|resnet50]
                                     install realesrgan-ncnn-vulkan and the RVM model (the configured
                                     one, or the one named) into tools/, and convert the upscaler's
                                     models to ONNX (--upscaler onnx)

Options:
  --bg          background: a library name (see \`dancelift backgrounds\`), an image or video file,
                or a colour such as #00b140 (default: config backgrounds.default)
  --scale       upscale factor (default 2; 1 = no upscaling)
  --model       the upscaler's model: general (real people, default) or anime (config upscale.model)
  --edges       clean the old background out of the dancer's edges: fusion (default), unmix, or off
  --out, -o     output folder (default ./out); the video is written as <name>.enhanced.mp4
  --matting-model
                mobilenetv3 (fast, the default) or resnet50 (finer hair and fingers, slower); a
                model not yet here is downloaded on first use (config matte.rvm.variant)
  --keep-cutout also keep <name>.cutout.mkv (dancer + alpha + audio) for a fast \`recompose\`
  --preview     only the most active SECONDS of each video (by motion), as <name>.preview.mp4:
                a quick look before the full run
  --aspect      reframe for phone apps: the frame follows the dancer (9:16 crops around her, 16:9
                extends the background), smoothed, never cutting a limb (config reframe.aspect)
  --fit         the dancer's height as a share of the frame's, e.g. 0.8 (default: her own size)
  --ground      put her feet on a floor line, a share of the frame height from the top, e.g. 0.92
  --shadow      a soft contact shadow under her feet
  --export alpha  also write the dancer with transparency for video editors: <name>.alpha.webm
                (VP9 with alpha) and <name>.alpha.mov (ProRes 4444)
  --json        one JSON result line per input on stdout, nothing else there
  --lang        en or zh for messages (default from LANG)
  --config      an extra YAML config file (see config/default.yaml)
`;
