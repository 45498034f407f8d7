/** Command-line options of `npm run bench`. Pure, so that it is unit-tested. */

export interface BenchOptions {
  /** The real clip the standard input is made from (looped to `seconds`). */
  clip: string;
  seconds: number;
  /** The shorter clip of the temp-space growth check (dancelift's pipeline only). */
  shortSeconds: number;
  runs: number;
  width: number;
  height: number;
  fps: number;
  quick: boolean;
  /** Write BENCHMARKS.md and bench/latest.json even from a --quick run. */
  write: boolean;
  /** Only re-render BENCHMARKS.md from this JSON (a bench's output): no runs. */
  render: string | null;
}

export const DEFAULT_CLIP = '../shared/media/musepose_dance_1080x1920_24fps_audio.mp4';

/*
 * The realesrgan binary on Mesa's CPU Vulkan driver costs about a second per frame however small
 * the frame, so the standard input is small (9:16 like the clip, 128x224 once upscaled) and at a low
 * frame rate: the full bench (3 runs of a 30 s clip, both workflows, plus the 10 s check) then takes
 * 20–30 minutes on a 2-core machine. On a GPU host pass --size and --fps for a realistic input.
 */
const DEFAULTS = { seconds: 30, shortSeconds: 10, runs: 3, width: 64, height: 112, fps: 6 };
const QUICK = { seconds: 3, shortSeconds: 1.5, fps: 4 };

export const USAGE = `usage: npm run bench [-- --clip FILE --seconds N --quick --runs N --size WxH --fps N --write]
  --clip FILE    real clip to loop into the standard input (default ${DEFAULT_CLIP})
  --seconds N    length of the standard input (default ${DEFAULTS.seconds}; --quick: ${QUICK.seconds})
  --short N      length of the temp-space growth check (default ${DEFAULTS.shortSeconds}; --quick: ${QUICK.shortSeconds})
  --runs N       runs of each measurement, the median is shown (default ${DEFAULTS.runs}, at least 3)
  --size WxH     size of the standard input (default ${DEFAULTS.width}x${DEFAULTS.height})
  --fps N        frame rate of the standard input (default ${DEFAULTS.fps}; --quick: ${QUICK.fps})
  --quick        a few seconds of video: the same table in a few minutes (writes bench/latest-quick.json)
  --write        with --quick, also write BENCHMARKS.md and bench/latest.json
  --render FILE  no runs: rewrite BENCHMARKS.md from a bench's JSON (e.g. bench/latest.json)`;

export class BenchArgsError extends Error {}

function positive(name: string, raw: string | undefined, integer: boolean): number {
  const n = Number(raw);
  if (raw === undefined || raw === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new BenchArgsError(`${name} needs a positive ${integer ? 'integer' : 'number'}, got ${raw ?? 'nothing'}`);
  }
  return n;
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  const set: Partial<BenchOptions> = {};
  let quick = false;
  let write = false;
  let render: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick': quick = true; break;
      case '--write': write = true; break;
      case '--render': {
        render = value() ?? null;
        if (!render) throw new BenchArgsError('--render needs a JSON file');
        break;
      }
      case '--clip': {
        const v = value();
        if (!v) throw new BenchArgsError('--clip needs a file');
        set.clip = v;
        break;
      }
      case '--seconds': set.seconds = positive('--seconds', value(), false); break;
      case '--short': set.shortSeconds = positive('--short', value(), false); break;
      case '--runs': set.runs = positive('--runs', value(), true); break;
      case '--fps': set.fps = positive('--fps', value(), false); break;
      case '--size': {
        const v = value();
        const m = /^(\d+)x(\d+)$/.exec(v ?? '');
        if (!m) throw new BenchArgsError(`--size needs WxH, got ${v ?? 'nothing'}`);
        set.width = Number(m[1]);
        set.height = Number(m[2]);
        // H.264 4:2:0 and the pipeline's own normalisation want even sizes.
        if (set.width % 2 || set.height % 2 || set.width < 16 || set.height < 16) throw new BenchArgsError(`--size needs even sizes of at least 16, got ${v}`);
        break;
      }
      case '--help': case '-h': throw new BenchArgsError(USAGE);
      default: throw new BenchArgsError(`unknown option ${a}\n${USAGE}`);
    }
  }
  const base = { ...DEFAULTS, ...(quick ? QUICK : {}) };
  const opts: BenchOptions = { clip: DEFAULT_CLIP, ...base, ...set, quick, write, render };
  if (opts.runs < 3) throw new BenchArgsError('--runs must be at least 3 (each figure is a median)');
  if (opts.shortSeconds >= opts.seconds) throw new BenchArgsError(`--short (${opts.shortSeconds}) must be below --seconds (${opts.seconds})`);
  return opts;
}
