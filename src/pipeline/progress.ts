import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number, alreadyDone: number): void;
  advance(count: number): void;
  stop(): void;
}

/** A bar on a terminal; elsewhere (pipeline logs) a line every `everySeconds`. Writes to stderr. */
export function createProgress(label: string, options: { quiet?: boolean; everySeconds?: number } = {}): Progress {
  if (options.quiet) return { start() {}, advance() {}, stop() {} };
  if (process.stderr.isTTY) {
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
    process.stderr.write(`${label}: ${done}/${total} images (${total ? Math.floor((100 * done) / total) : 100}%), ${rate.toFixed(1)} img/s\n`);
    lastLine = performance.now();
  };
  return {
    start(t, alreadyDone) {
      total = t;
      done = initial = alreadyDone;
      startedAt = lastLine = performance.now();
      if (alreadyDone > 0) process.stderr.write(`${label}: resuming, ${alreadyDone} of ${t} images already done\n`);
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
