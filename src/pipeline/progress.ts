import cliProgress from 'cli-progress';
import { interactive, log } from '../log.ts';

export interface Progress {
  start(total: number, alreadyDone: number): void;
  advance(count: number): void;
  stop(): void;
}

/**
 * A bar on a terminal (text log format); elsewhere (pipeline logs, `--log-format json`) a log line every
 * `everySeconds`, through src/log.ts: plain text or one JSON object with the counts as fields, never ANSI codes.
 */
export function createProgress(label: string, options: { quiet?: boolean; everySeconds?: number } = {}): Progress {
  if (options.quiet) return { start() {}, advance() {}, stop() {} };
  if (interactive()) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} images | {percentage}% | {rate} img/s | eta {eta_formatted}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let startedAt = 0;
    let done = 0;
    let initial = 0;
    return {
      start(total, alreadyDone) {
        startedAt = performance.now();
        done = initial = alreadyDone;
        bar.start(total, alreadyDone, { rate: '0.0' });
      },
      advance(count) {
        done += count;
        const seconds = (performance.now() - startedAt) / 1000;
        bar.update(done, { rate: ((done - initial) / Math.max(seconds, 1e-3)).toFixed(1) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const every = (options.everySeconds ?? 10) * 1000;
  let total = 0;
  let done = 0;
  let initial = 0;
  let startedAt = 0;
  let lastLine = 0;
  const line = () => {
    const seconds = (performance.now() - startedAt) / 1000;
    const rate = (done - initial) / Math.max(seconds, 1e-3);
    const percent = total ? Math.floor((100 * done) / total) : 100;
    log.info(`${done}/${total} images (${percent}%), ${rate.toFixed(1)} img/s`, { event: 'progress', label, done, total, percent, rate: round1(rate) });
    lastLine = performance.now();
  };
  return {
    start(t, alreadyDone) {
      total = t;
      done = initial = alreadyDone;
      startedAt = lastLine = performance.now();
      if (alreadyDone > 0) log.info(`resuming, ${alreadyDone} of ${t} images already done`, { event: 'resume', label, done: alreadyDone, total: t });
    },
    advance(count) {
      done += count;
      if (performance.now() - lastLine >= every) line();
    },
    stop() {
      line();
    },
  };
}

const round1 = (v: number) => Math.round(v * 10) / 10;
