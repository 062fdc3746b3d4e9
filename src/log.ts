import { stripVTControlCharacters } from 'node:util';
import type { InputNotice } from './notices.ts';
import { redact } from './redact.ts';

/**
 * heatgate's one writer to stderr: progress, notices, warnings and errors. `text` (the default) is for people:
 * `heatgate: <msg>`, `heatgate: warning: <msg>`, `heatgate: error: <msg>`. `json` (`--log-format json`) is for log
 * collectors: one object per line, `{"time", "level", "msg", ...fields}`. Every line is redacted (src/redact.ts),
 * and carries no ANSI escape codes unless it goes to a terminal in text format.
 */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

interface Sink {
  write(line: string): void;
  isTTY: boolean;
}

const stderrSink: Sink = {
  write: (line) => void process.stderr.write(line),
  get isTTY() {
    return Boolean(process.stderr.isTTY);
  },
};

let format: LogFormat = 'text';
let sink: Sink = stderrSink;

export function setLogFormat(value: LogFormat): void {
  if (!LOG_FORMATS.includes(value)) throw new Error(`unknown log format "${String(value)}"`);
  format = value;
}

export function logFormat(): LogFormat {
  return format;
}

/** Whether a live progress bar may be drawn: a terminal, and people (text) reading it. */
export function interactive(): boolean {
  return format === 'text' && sink.isTTY;
}

/**
 * The `--log-format` value in raw argv, read before yargs parses: so that usage errors (which stop the parse) come
 * out in the requested format too. Invalid values are left to yargs' `choices` check.
 */
export function logFormatFromArgv(argv: readonly string[]): LogFormat | undefined {
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i].startsWith('--log-format=') ? argv[i].slice('--log-format='.length) : argv[i] === '--log-format' ? argv[i + 1] : undefined;
    if (value !== undefined) return (LOG_FORMATS as readonly string[]).includes(value) ? (value as LogFormat) : undefined;
  }
  return undefined;
}

const TEXT_PREFIX: Record<LogLevel, string> = { info: 'heatgate: ', warn: 'heatgate: warning: ', error: 'heatgate: error: ' };

function emit(level: LogLevel, msg: string, fields?: LogFields): void {
  let line: string;
  if (format === 'json') {
    const record = { time: new Date().toISOString(), level, msg, ...fields };
    line = JSON.stringify(record, (_key, value) => (typeof value === 'string' ? clean(value) : value));
  } else {
    line = textLine(`${TEXT_PREFIX[level]}${msg}`);
  }
  sink.write(`${line}\n`);
}

function textLine(text: string): string {
  const line = redact(text);
  return sink.isTTY ? line : stripVTControlCharacters(line);
}

function clean(value: string): string {
  return stripVTControlCharacters(redact(value));
}

export const log = {
  info: (msg: string, fields?: LogFields) => emit('info', msg, fields),
  warn: (msg: string, fields?: LogFields) => emit('warn', msg, fields),
  error: (msg: string, fields?: LogFields) => emit('error', msg, fields),
};

let warningsRouted = false;

/**
 * Node's process warnings (deprecations, the AWS SDK's Node version notice) go through the log instead of Node's
 * own multi-line stderr output, so `--log-format json` stays one object per line. Idempotent.
 */
export function routeProcessWarnings(): void {
  if (warningsRouted) return;
  warningsRouted = true;
  process.removeAllListeners('warning');
  process.on('warning', (warning) => log.warn(`${warning.name}: ${warning.message.replace(/\s*\n\s*/g, ' ')}`, { event: 'process-warning', name: warning.name }));
}

/**
 * An input notice (src/notices.ts): in text one `heatgate: notice:` line naming where it came from and a few
 * examples; in json a warning with all its fields.
 */
export function logNotice(notice: InputNotice): void {
  if (format === 'json') {
    log.warn(notice.message, { event: 'notice', ...notice });
    return;
  }
  const where = `${notice.source}${notice.file ? ` ${notice.file}` : ''}`;
  const examples = notice.examples.length > 0 ? ` (e.g. ${notice.examples.slice(0, 3).join(', ')})` : '';
  sink.write(`${textLine(`heatgate: notice: ${where}: ${notice.message}${examples}`)}\n`);
}

/** Sends log lines to `write` until the returned function is called (tests, embedding). */
export function captureLog(write: (line: string) => void, options: { isTTY?: boolean } = {}): () => void {
  const previous = sink;
  sink = { write, isTTY: options.isTTY ?? false };
  return () => {
    sink = previous;
  };
}
