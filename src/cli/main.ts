import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, packageRoot } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { help, parseCommand, UsageError, type CommonFlags, type EnhanceFlags, type EnhanceOnlyFlags } from './args.js';
import { alphaExportPaths } from '../pipeline/export-alpha.js';
import { reframeRequest } from '../pipeline/reframe-stage.js';
import { enhancePreview, previewPathFor, type PreviewInfo } from '../pipeline/preview.js';
import { cutoutPathFor, expandInputs, outputPathFor } from './run-files.js';
import { formatProgressLine, formatSummary, formatTimingTable, jsonResultLine } from './run-output.js';
import { errorMessage, localeFrom, type Locale } from '../i18n/messages.js';
import { enhance, type EnhanceResult } from '../pipeline/index.js';
import { recompose } from '../pipeline/recompose.js';
import type { Progress, StageName } from '../pipeline/types.js';
import { formatDoctor } from '../machine/doctor.js';
import { backgroundsDir, ensureDefaultBackgrounds, listBackgrounds } from '../backgrounds/library.js';
import { formatProvision } from '../machine/provision/index.js';
import { doctor, provision } from './engines.js';
import { runCancel, runJobs, runStart, runSubmit } from './service-commands.js';
import { runGenerate } from './generate-command.js';

interface Outcome {
  input: string;
  result?: EnhanceResult;
  error?: unknown;
}

/** Redraws one status line on a terminal; silent when stderr is a file or a pipe. */
function progressPrinter(enabled: boolean) {
  const states = new Map<StageName, Progress>();
  let last = 0;
  return {
    update(p: Progress) {
      states.set(p.stage, p);
      const now = Date.now();
      if (!enabled || now - last < 100) return;
      last = now;
      process.stderr.write(`\r\x1b[2K${formatProgressLine([...states.values()], process.stderr.columns)}`);
    },
    clear() {
      if (enabled && states.size > 0) process.stderr.write('\r\x1b[2K');
      states.clear();
    },
  };
}

function localeOf(flags: { lang?: string }): Locale {
  return localeFrom(flags.lang ?? process.env.LC_ALL ?? process.env.LC_MESSAGES ?? process.env.LANG);
}

/** Ctrl-C cancels the run in progress: children killed, temp removed, no half-written output. */
function interruptSignal(): AbortSignal {
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\ncancelling…\n');
    ac.abort(new Error('interrupted'));
  };
  // `on`, not `once`: signal-exit (execa's child clean-up) re-raises a signal that no other listener
  // is left to hear, which would kill us before the clean-up below.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return ac.signal;
}

async function runBatch(
  inputs: string[],
  flags: CommonFlags,
  work: (input: string, onProgress: (p: Progress) => void, signal: AbortSignal) => Promise<EnhanceResult & { preview?: PreviewInfo }>,
): Promise<number> {
  const locale = localeOf(flags);
  const signal = interruptSignal();
  const progress = progressPrinter(!flags.json && Boolean(process.stderr.isTTY));
  const outcomes: Outcome[] = [];
  for (const input of inputs) {
    if (signal.aborted) break;
    if (!flags.json) process.stderr.write(`▶ ${input}\n`);
    try {
      const result = await work(input, (p) => progress.update(p), signal);
      progress.clear();
      outcomes.push({ input, result });
      if (flags.json) {
        process.stdout.write(`${jsonResultLine({ input, output: result.output, ok: true, durationS: result.durationS, width: result.width, height: result.height, stats: result.stats, exports: result.exports, preview: result.preview })}\n`);
      } else {
        process.stdout.write(`${formatTimingTable({ stats: result.stats, durationS: result.durationS, width: result.width, height: result.height, output: result.output, exports: result.exports, preview: result.preview })}\n`);
      }
    } catch (error) {
      progress.clear();
      outcomes.push({ input, error });
      const message = errorMessage(error, locale);
      if (flags.json) {
        process.stdout.write(`${jsonResultLine({ input, output: null, ok: false, error: message, durationS: null, width: null, height: null, stats: null })}\n`);
      } else {
        process.stderr.write(`✘ ${input}: ${message}\n`);
      }
    }
  }
  if (!flags.json && inputs.length > 1) {
    process.stderr.write(`${formatSummary(outcomes.map((o) => ({ input: o.input, ok: !o.error, error: o.error ? errorMessage(o.error, locale) : undefined })))}\n`);
  }
  return outcomes.some((o) => o.error) || outcomes.length < inputs.length ? 1 : 0;
}

async function runEnhance(inputs: string[], flags: EnhanceFlags & EnhanceOnlyFlags, config: Config): Promise<number> {
  const files = await expandInputs(inputs);
  if (files.length === 0) {
    process.stderr.write(`${errorMessage(new UsageError('no video files found'), localeOf(flags))}\n`);
    return 1;
  }
  return runBatch(files, flags, (input, onProgress, signal) => {
    const output = flags.preview ? previewPathFor(outputPathFor(input, flags.out)) : outputPathFor(input, flags.out);
    const req = {
      input,
      output,
      cutout: flags.keepCutout ? cutoutPathFor(input, flags.out) : undefined,
      exportAlpha: flags.export === 'alpha' ? alphaExportPaths(output) : undefined,
      reframe: reframeRequest(flags),
      background: flags.bg,
      scale: flags.scale,
      upscaler: flags.upscaler,
      model: flags.model,
      edges: flags.edges,
      matting: flags.matting,
      mattingModel: flags.mattingModel,
      config,
      signal,
      onProgress,
    };
    return flags.preview ? enhancePreview({ ...req, previewS: flags.preview }) : enhance(req);
  });
}

const safeName = (s: string) => path.basename(s, path.extname(s)).replace(/[^\p{L}\p{N}_-]+/gu, '_').slice(0, 40) || 'bg';

async function main(argv: string[]): Promise<number> {
  const cmd = parseCommand(argv);
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(help());
      return 0;
    case 'version': {
      const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(`dancelift ${pkg.version}\n`);
      return 0;
    }
    case 'enhance':
      return runEnhance(cmd.inputs, cmd.opts, loadConfig({ file: cmd.opts.config }));
    case 'recompose': {
      const config = loadConfig({ file: cmd.opts.config });
      const bg = cmd.opts.bg!;
      return runBatch(cmd.cutouts, cmd.opts, (cutout, onProgress, signal) =>
        recompose({ cutout, output: outputPathFor(cutout, cmd.opts.out, safeName(bg)), background: bg, config, signal, onProgress }),
      );
    }
    case 'doctor': {
      const result = await doctor(loadConfig());
      process.stdout.write(cmd.json ? `${JSON.stringify(result)}\n` : `${formatDoctor(result)}\n`);
      return result.ok ? 0 : 1;
    }
    case 'backgrounds-generate':
      return runGenerate(cmd.prompt, cmd.opts, loadConfig({ file: cmd.opts.config }), localeOf(cmd.opts));
    case 'backgrounds': {
      const dir = backgroundsDir(loadConfig({ file: cmd.config }));
      await ensureDefaultBackgrounds(dir);
      const list = await listBackgrounds(dir);
      if (cmd.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else process.stdout.write(`${list.map((b) => `${b.name.padEnd(16)} ${b.kind.padEnd(6)} ${b.path}`).join('\n')}\n(also: any image/video path, or a colour like #00b140)\n`);
      return 0;
    }
    case 'start':
      return runStart(loadConfig({ file: cmd.config }));
    case 'submit':
      return runSubmit(cmd.file, cmd.opts, loadConfig({ file: cmd.opts.config }));
    case 'jobs':
      return runJobs(loadConfig({ file: cmd.config }), cmd.json);
    case 'cancel':
      return runCancel(loadConfig({ file: cmd.config }), cmd.ids);
    case 'provision': {
      const report = await provision(loadConfig(), { log: (m: string) => process.stderr.write(`${m}\n`) }, { mattingModel: cmd.mattingModel });
      process.stdout.write(`${formatProvision(report)}\n`);
      return report.ok ? 0 : 1;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`dancelift: ${err.message}\n\n${help()}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`dancelift: ${errorMessage(err, localeOf({}))}\n`);
    process.exitCode = 1;
  },
);
