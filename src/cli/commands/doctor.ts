import { doctor, missingProvider, type DoctorReport } from '../../doctor.ts';
import { EXIT_CODES } from '../../errors.ts';
import { log } from '../../log.ts';
import { PROVIDER_CHOICES, type ExecutionProvider } from '../../onnx/providers.ts';
import type { HeatgateCommand } from './types.ts';

export const doctorCommand: HeatgateCommand = {
  command: 'doctor',
  describe: 'Versions, execution providers, GPU and driver, S3 endpoint and credentials: what this install can use',
  builder: (y) =>
    y
      .option('provider', { choices: PROVIDER_CHOICES, describe: 'also check this provider; exit 4 when it is missing or fails' })
      .option('device-id', { type: 'number', describe: 'CUDA device ordinal to check' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of text' }),
  handler: async (args) => {
    const provider = args.provider as ExecutionProvider | undefined;
    const report = await doctor({ provider, deviceId: args.deviceId as number | undefined });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report));
    const missing = missingProvider(report, provider);
    if (missing === undefined) return EXIT_CODES.pass;
    log.error(`execution provider ${provider} is not available: ${missing}`, { exitCode: EXIT_CODES.infrastructure, provider });
    return EXIT_CODES.infrastructure;
  },
};

export function renderDoctor(r: DoctorReport): string {
  const width = Math.max(...r.providers.map((p) => p.name.length));
  const providers = r.providers.map((p) => {
    const detail = p.status === 'fails' ? `fails: ${p.reason}` : p.status === 'not probed' ? 'not checked (--provider to check)' : 'works';
    return `  ${p.name.padEnd(width)}  ${(p.bundled ? 'bundled' : 'separate download').padEnd(17)}  ${detail}`;
  });
  const { s3, credentials: c } = r;
  return [
    `heatgate ${r.heatgate}`,
    `node ${r.node} (${r.platform})`,
    `onnxruntime-node ${r.onnxruntime.version} (${r.onnxruntime.binDir})`,
    'execution providers:',
    ...providers,
    `CUDA provider library: ${r.cudaLibrary.present ? 'present' : 'missing'} (${r.cudaLibrary.file})`,
    `GPU: ${r.gpu.found ? r.gpu.devices.join('; ') : r.gpu.note}`,
    `S3 endpoint: ${s3.endpoint ? `${s3.endpoint} (${s3.endpointFrom})` : 'AWS default (AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL unset)'}`,
    `S3 region: ${s3.region ? `${s3.region} (${s3.regionFrom})` : 'not set (AWS_REGION; else the profile\'s region)'}`,
    `S3 path-style addressing: ${s3.forcePathStyle ? 'yes' : 'no'}`,
    `S3 CA bundle: ${s3.caBundle ?? 'none (AWS_CA_BUNDLE unset)'}`,
    ...(s3.problem ? [`S3 settings refused: ${s3.problem}`] : []),
    c.resolved
      ? `AWS credentials: resolved (${c.source}), access key id ${c.accessKeyIdPrefix}${c.expires ? `, expires ${c.expires}` : ''}`
      : `AWS credentials: not resolved (${c.reason})`,
    '',
  ].join('\n');
}
