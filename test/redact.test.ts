/**
 * Credentials never leave the process: src/redact.ts on its own (fake secrets in a fake environment), then at the
 * exits: the CLI's error line, log lines in both formats, and the error strings written into results.jsonl.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { captureLog, log, setLogFormat } from '../src/log.ts';
import { errorText, redact, REDACTED, secretValues } from '../src/redact.ts';

const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEFAKEKEY';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEFAKEsessionTOKEN+abc/def==';
const ENV = { AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_SESSION_TOKEN: SESSION_TOKEN, AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKE0000', HOME: '/home/someone' };

afterEach(() => {
  vi.unstubAllEnvs();
  setLogFormat('text');
});

describe('redact', () => {
  it('masks the values of secret environment variables wherever they appear', () => {
    const text = `signing with ${SECRET_KEY} and token=${SESSION_TOKEN} failed`;
    expect(redact(text, ENV)).toBe(`signing with ${REDACTED} and token=${REDACTED} failed`);
  });

  it('leaves key ids, paths and short or non-secret variables alone', () => {
    expect(secretValues({ ...ENV, GITHUB_TOKEN: 'x', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/token' })).toEqual(
      [SESSION_TOKEN, SECRET_KEY].sort((a, b) => b.length - a.length),
    );
    expect(redact('key AKIAFAKEFAKEFAKE0000 in /home/someone/.aws', ENV)).toBe('key AKIAFAKEFAKEFAKE0000 in /home/someone/.aws');
  });

  it('masks presigned-URL signatures, credentials and session tokens', () => {
    const url =
      'https://bucket.s3.amazonaws.com/m.onnx?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAFAKE%2F20261201%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20261201T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=FwoGZXIvYXdzEFAKE&X-Amz-Signature=0123456789abcdef&X-Amz-SignedHeaders=host';
    const out = redact(`GET ${url}: 403`, {});
    expect(out).toBe(
      `GET https://bucket.s3.amazonaws.com/m.onnx?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${REDACTED}` +
        `&X-Amz-Date=20261201T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=${REDACTED}&X-Amz-Signature=${REDACTED}&X-Amz-SignedHeaders=host: 403`,
    );
  });

  it('masks bearer tokens and basic credentials in headers and URLs', () => {
    expect(redact('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl', {})).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redact('authorization=Basic dXNlcjpwYXNz', {})).toBe(`authorization=Basic ${REDACTED}`);
    expect(redact('fetch https://user:hunter2hunter2@minio.local:9000/b failed', {})).toBe(`fetch https://user:${REDACTED}@minio.local:9000/b failed`);
  });

  it('errorText is the redacted one-line message of anything thrown', () => {
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET_KEY);
    expect(errorText(new Error(`bad key ${SECRET_KEY}\n  at somewhere`))).toBe(`bad key ${REDACTED} at somewhere`);
    expect(errorText('plain')).toBe('plain');
  });
});

describe('at the exits', () => {
  it('log lines are redacted in text and in json', () => {
    vi.stubEnv('AWS_SESSION_TOKEN', SESSION_TOKEN);
    const lines: string[] = [];
    const restore = captureLog((l) => lines.push(l));
    try {
      log.warn(`retrying with token ${SESSION_TOKEN}`);
      setLogFormat('json');
      log.error('upload failed', { url: 'https://b.s3.amazonaws.com/k?X-Amz-Signature=feedface', detail: `token ${SESSION_TOKEN}` });
    } finally {
      restore();
    }
    expect(lines[0]).toBe(`heatgate: warning: retrying with token ${REDACTED}\n`);
    const json = JSON.parse(lines[1]);
    expect(json).toMatchObject({ level: 'error', msg: 'upload failed', url: `https://b.s3.amazonaws.com/k?X-Amz-Signature=${REDACTED}`, detail: `token ${REDACTED}` });
    expect(lines.join('')).not.toContain(SESSION_TOKEN);
  });

  it('the CLI error line and the results.jsonl error strings carry no secret', async () => {
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET_KEY);
    const dir = await mkdtemp(path.join(tmpdir(), 'heatgate-redact-'));
    // A folder named after the secret: every message naming a file in it would leak it.
    const secretDir = path.join(dir, SECRET_KEY.replaceAll('/', '_'));
    vi.stubEnv('HEATGATE_TEST_API_KEY', path.basename(secretDir));
    let stderr = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
    let code: number;
    try {
      code = await main(['explain', '--model', path.join(secretDir, 'missing.onnx'), '--images', dir, '--out', path.join(dir, 'out')]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(2); // a missing --model is a usage error, named without the secret
    expect(stderr).toContain(REDACTED);
    expect(stderr).not.toContain(path.basename(secretDir));

    // An unreadable image inside the secret-named folder: its results line says why, without the secret.
    const images = path.join(secretDir, 'images');
    await mkdir(images, { recursive: true });
    await writeFile(path.join(images, 'broken.png'), 'not a png');
    await writeFile(path.join(images, 'ok.png'), await readFile('examples/underpass/images/frame_0000.png'));
    const out = path.join(dir, 'out2');
    stderr = '';
    const spy2 = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
    try {
      code = await main(['explain', '--model', 'examples/underpass/models/clean.onnx', '--images', images, '--out', out, '--quiet']);
    } finally {
      spy2.mockRestore();
    }
    expect(code).toBe(3);
    const rows = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const broken = rows.find((r) => r.image === 'broken.png');
    expect(broken.error).toContain(REDACTED);
    expect(JSON.stringify(rows)).not.toContain(path.basename(secretDir));
    expect(stderr).not.toContain(path.basename(secretDir));
  });
});
