/**
 * Masks credentials in text that leaves the process: log lines, error lines, error strings written into results,
 * verdicts and reports. Applied at those exits (src/log.ts, the CLI's error lines, `errorText`), so a secret an SDK
 * or a URL puts into a message never reaches a pipeline log or an artifact.
 */
export const REDACTED = '[redacted]';

/** Environment variables whose values are secrets wherever they show up (names matched case-insensitively). */
const SECRET_ENV = /SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|API_KEY/i;
/** ...except those that name a file (AWS_WEB_IDENTITY_TOKEN_FILE): a path helps a reader and reveals nothing. */
const FILE_ENV = /_(FILE|PATH|DIR)$/i;
/** Shorter values are too likely to be ordinary words or numbers to mask everywhere. */
const MIN_SECRET_LENGTH = 8;

const PATTERNS: [RegExp, string][] = [
  // Presigned URLs (SigV4 and SigV2 query auth): the signature, the credential scope and the session token.
  [/\b(X-Amz-(?:Signature|Credential|Security-Token))=[^&\s"'<>]+/gi, `$1=${REDACTED}`],
  [/\b(Signature|AWSAccessKeyId)=[^&\s"'<>,]+/g, `$1=${REDACTED}`],
  // Authorization headers: bearer tokens and SigV4 header signatures; also Basic credentials.
  [/\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`],
  [/\b(Authorization\s*[:=]\s*Basic)\s+[A-Za-z0-9+/]+=*/gi, `$1 ${REDACTED}`],
  // user:password@ in URLs.
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+):[^/\s@]+@/gi, `$1:${REDACTED}@`],
];

/** The values of secret-looking variables in `env`, longest first (so a secret containing another is masked whole). */
export function secretValues(env: NodeJS.ProcessEnv = process.env): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value && value.length >= MIN_SECRET_LENGTH && SECRET_ENV.test(name) && !FILE_ENV.test(name)) values.add(value);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

/** `text` with secrets from the environment, presigned-URL parameters and authorization tokens masked. */
export function redact(text: string, env: NodeJS.ProcessEnv = process.env): string {
  let out = text;
  for (const secret of secretValues(env)) out = out.split(secret).join(REDACTED);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** The one-line message of a thrown value, redacted: what modules write into results.jsonl `error` and reports. */
export function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return redact(message.replace(/\s*\n\s*/g, ' ').trim());
}
