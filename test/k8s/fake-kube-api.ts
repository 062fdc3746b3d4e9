/**
 * A loopback stand-in for the Kubernetes API with Argo's CRDs: enough of GET WorkflowTemplate, POST Workflow,
 * GET Workflow and watch (newline-delimited JSON events) for `heatgate submit`, recording every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Workflow, WorkflowTemplate } from '../../src/k8s/workflow.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization?: string;
  body?: unknown;
}

export interface Scenario {
  template?: WorkflowTemplate;
  /** Status code and body for POST workflows, instead of creating. */
  refuseCreate?: { status: number; message: string };
  /** One list of objects per watch request; the stream ends after each list. 'gone': answer 410 Gone. */
  watches: (Workflow[] | 'gone')[];
  /** What GET workflows/<name> returns (default: the last object streamed so far). */
  current?: Workflow;
}

export const WORKFLOW_NAME = 'heatgate-x7k2p';

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  private server?: Server;
  private watchCount = 0;
  private lastStreamed?: Workflow;

  constructor(private readonly scenario: Scenario) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://localhost');
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const record: RecordedRequest = { method: req.method!, path: url.pathname, query: url.searchParams, authorization: req.headers.authorization };
    if (raw) record.body = JSON.parse(raw);
    this.requests.push(record);

    const m = /^\/apis\/argoproj\.io\/v1alpha1\/namespaces\/([^/]+)\/(workflows|workflowtemplates)(?:\/([^/]+))?$/.exec(url.pathname);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const status = (code: number, message: string) => json(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });
    if (!m) return status(404, `the server could not find the requested resource (${url.pathname})`);
    const [, namespace, plural, name] = m;
    if (plural === 'workflowtemplates' && req.method === 'GET' && name) {
      if (!this.scenario.template || this.scenario.template.metadata.name !== name) {
        return status(404, `workflowtemplates.argoproj.io "${name}" not found`);
      }
      return json(200, this.scenario.template);
    }
    if (plural === 'workflows' && req.method === 'POST' && !name) {
      if (this.scenario.refuseCreate) return status(this.scenario.refuseCreate.status, this.scenario.refuseCreate.message);
      const body = record.body as Workflow;
      return json(201, { ...body, metadata: { ...body.metadata, name: WORKFLOW_NAME, namespace, resourceVersion: '100' }, status: {} });
    }
    if (plural === 'workflows' && req.method === 'GET' && url.searchParams.get('watch') === 'true') {
      const events = this.scenario.watches[this.watchCount++] ?? [];
      if (events === 'gone') return status(410, 'too old resource version: 100 (2000)');
      res.writeHead(200, { 'content-type': 'application/json' });
      events.forEach((object, i) => {
        this.lastStreamed = object;
        res.write(`${JSON.stringify({ type: i === 0 ? 'ADDED' : 'MODIFIED', object })}\n`);
      });
      res.end();
      return;
    }
    if (plural === 'workflows' && req.method === 'GET' && name) {
      const current = this.scenario.current ?? this.lastStreamed;
      return current ? json(200, current) : status(404, `workflows.argoproj.io "${name}" not found`);
    }
    return status(405, `${req.method} ${url.pathname} is not served by this fake`);
  }
}

export async function writeKubeconfig(dir: string, server: string, namespace = 'gates', plainHttpAllowed = true): Promise<string> {
  const file = path.join(dir, 'kubeconfig');
  await writeFile(file, [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `  - {name: fake, cluster: {server: "${server}"${plainHttpAllowed ? ', insecure-skip-tls-verify: true' : ''}}}`,
    'users:',
    '  - {name: ci, user: {token: test-token}}',
    'contexts:',
    `  - {name: fake, context: {cluster: fake, user: ci, namespace: ${namespace}}}`,
    'current-context: fake',
    '',
  ].join('\n'));
  return file;
}

/** A workflow object at some point of its life. */
export function workflowAt(phase: string, extra: Partial<NonNullable<Workflow['status']>> = {}, resourceVersion = '101'): Workflow {
  return { metadata: { name: WORKFLOW_NAME, namespace: 'gates', resourceVersion }, status: { phase, ...extra } };
}
