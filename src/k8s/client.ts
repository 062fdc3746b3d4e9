/**
 * Argo Workflows through the Kubernetes API (@kubernetes/client-node): kubeconfig or in-cluster credentials,
 * create, get and watch. Every failure becomes a HeatgateError: refusals and missing things are configuration
 * (exit 2), unreachable or failing API servers are infrastructure (exit 4).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ApiException, CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { ConfigError, HeatgateError, InfrastructureError } from '../errors.ts';
import { ARGO_GROUP, ARGO_VERSION, type Workflow, type WorkflowTemplate } from './workflow.ts';

export interface ClusterOptions {
  /** A kubeconfig file; default: $KUBECONFIG, ~/.kube/config, else the pod's service account. */
  kubeconfig?: string;
  /** Default: the kubeconfig context's namespace (in a pod: its own), else "default". */
  namespace?: string;
}

/** Loads credentials the way kubectl does, but refuses to guess a cluster when there is none. */
export function loadKubeConfig(kubeconfig?: string): KubeConfig {
  const config = new KubeConfig();
  const source = kubeconfig ?? process.env.KUBECONFIG ?? path.join(homedir(), '.kube', 'config');
  try {
    if (kubeconfig !== undefined || process.env.KUBECONFIG || existsSync(source)) {
      if (kubeconfig !== undefined && !existsSync(kubeconfig)) throw new ConfigError('no such file', `--kubeconfig ${kubeconfig}`);
      if (kubeconfig !== undefined) config.loadFromFile(kubeconfig);
      else config.loadFromDefault();
    } else if (process.env.KUBERNETES_SERVICE_HOST) {
      config.loadFromCluster();
    } else {
      throw new ConfigError('no kubeconfig: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run in a pod');
    }
  } catch (error) {
    if (error instanceof HeatgateError) throw error;
    throw new ConfigError(`cannot read the kubeconfig: ${firstLine(error)}`, source);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster?.server) throw new ConfigError(`the kubeconfig's current context "${config.getCurrentContext()}" names no cluster with a server`, source);
  // @kubernetes/client-node refuses plain HTTP (kubectl proxy, a loopback API) unless the cluster says so.
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    throw new ConfigError(`cluster "${cluster.name}" has a plain-HTTP server ${cluster.server}; set insecure-skip-tls-verify: true on it to allow that`, source);
  }
  return config;
}

export class ArgoClient {
  readonly namespace: string;
  readonly server: string;
  private readonly api: CustomObjectsApi;

  constructor(private readonly config: KubeConfig, namespace?: string) {
    this.namespace = namespace ?? config.getContextObject(config.getCurrentContext())?.namespace ?? 'default';
    this.server = config.getCurrentCluster()!.server;
    this.api = config.makeApiClient(CustomObjectsApi);
  }

  static fromOptions(options: ClusterOptions): ArgoClient {
    return new ArgoClient(loadKubeConfig(options.kubeconfig), options.namespace);
  }

  /** The collection path, as a watch URL needs it. */
  get workflowsPath(): string {
    return `/apis/${ARGO_GROUP}/${ARGO_VERSION}/namespaces/${this.namespace}/workflows`;
  }

  async getTemplate(name: string): Promise<WorkflowTemplate> {
    return this.call(`get WorkflowTemplate ${name}`, () =>
      this.api.getNamespacedCustomObject({ group: ARGO_GROUP, version: ARGO_VERSION, namespace: this.namespace, plural: 'workflowtemplates', name }),
    ) as Promise<WorkflowTemplate>;
  }

  async create(workflow: Workflow): Promise<Workflow> {
    return this.call('create a Workflow', () =>
      this.api.createNamespacedCustomObject({ group: ARGO_GROUP, version: ARGO_VERSION, namespace: this.namespace, plural: 'workflows', body: workflow }),
    ) as Promise<Workflow>;
  }

  async get(name: string): Promise<Workflow> {
    return this.call(`get Workflow ${name}`, () =>
      this.api.getNamespacedCustomObject({ group: ARGO_GROUP, version: ARGO_VERSION, namespace: this.namespace, plural: 'workflows', name }),
    ) as Promise<Workflow>;
  }

  /**
   * Watches one workflow from `resourceVersion`, calling `onObject` for each ADDED/MODIFIED object, until
   * `onObject` returns true (then the stream is closed) or the server ends the stream. Resolves true in the first
   * case, false in the second; rejects on a failed watch.
   */
  async watch(name: string, resourceVersion: string | undefined, onObject: (workflow: Workflow) => boolean): Promise<boolean> {
    let controller: AbortController | undefined;
    let stopped = false;
    const ended = new Promise<boolean>((resolve, reject) => {
      new Watch(this.config)
        .watch(
          this.workflowsPath,
          { fieldSelector: `metadata.name=${name}`, resourceVersion, allowWatchBookmarks: false },
          (type, object: Workflow) => {
            if (stopped || (type !== 'ADDED' && type !== 'MODIFIED')) return;
            if (onObject(object)) {
              stopped = true;
              resolve(true);
              controller?.abort();
            }
          },
          (error: unknown) => {
            if (stopped) return;
            // 410 Gone: resourceVersion too old; the caller reads the workflow again and watches from there.
            const gone = (error as { statusCode?: number } | null)?.statusCode === 410;
            if (error && !isAbort(error) && !gone) reject(this.translate(`watch Workflow ${name}`, error));
            else resolve(false);
          },
        )
        .then((c) => {
          controller = c;
          if (stopped) c.abort();
        }, reject);
    });
    return ended;
  }

  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw this.translate(what, error);
    }
  }

  /** One line naming the namespace, the API server and what to do next. */
  private translate(what: string, error: unknown): HeatgateError {
    const where = `namespace ${this.namespace} at ${this.server}`;
    const status = error instanceof ApiException ? error.code : (error as { statusCode?: number }).statusCode;
    if (status === undefined) return new InfrastructureError(`cannot ${what} in ${where}: ${firstLine(error)}`);
    const detail = apiMessage(error) ?? firstLine(error);
    if (status === 401 || status === 403) {
      return new ConfigError(`the Kubernetes API refused to ${what} in ${where} (HTTP ${status}): ${detail}; ` +
        'the identity needs the heatgate-submit Role (manifests/rbac.yaml)');
    }
    if (status === 404) return new ConfigError(`cannot ${what} in ${where}: not found (HTTP 404): ${detail}; install manifests/ (kubectl apply -k manifests)`);
    if (status === 400 || status === 409 || status === 422) return new ConfigError(`the Kubernetes API rejected the request to ${what} in ${where} (HTTP ${status}): ${detail}`);
    return new InfrastructureError(`cannot ${what} in ${where} (HTTP ${status}): ${detail}`);
  }
}

function apiMessage(error: unknown): string | undefined {
  if (!(error instanceof ApiException)) return undefined;
  let body: unknown = error.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text);
    } catch {
      return text.trim().split('\n')[0] || undefined;
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

function isAbort(error: unknown): boolean {
  return (error as { name?: string }).name === 'AbortError' || (error as { type?: string }).type === 'aborted';
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
