import { inspectModel } from '../../onnx/inspect.ts';
import { defaultLayer } from '../../onnx/layers.ts';
import { log } from '../../log.ts';
import { inputSizeFrom, modelFormFlags, s3Flags, storageFrom, tokenOptionsFrom } from './options.ts';
import type { HeatgateCommand } from './types.ts';

export const layersCommand: HeatgateCommand = {
  command: 'layers <model>',
  describe: 'List the tensors Grad-CAM can explain (4-D activations on the way to the logits) and mark the default',
  builder: (y) =>
    s3Flags(y)
      .positional('model', { type: 'string', demandOption: true, describe: 'ONNX classifier (a local path, file:// or s3://)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of a table' })
      .options({ output: modelFormFlags.output, 'input-size': modelFormFlags['input-size'] })
      .option('tokens-grid', { type: 'string', describe: 'transformer token layers: the patch grid HxW (default: from the patch embedding)' })
      .option('skip-tokens', { type: 'number', describe: 'transformer token layers: leading tokens that are not patches' }),
  handler: async (args) => {
    const storage = storageFrom(args, ['model']);
    const size = { ...inputSizeFrom(args.inputSize), output: args.output as string | undefined, tokens: tokenOptionsFrom(args) };
    const model = await inspectModel(args.model as string, size, { storage });
    for (const note of model.notes) log.info(note);
    const chosen = defaultLayer(model.candidates, model.loaded.file);
    if (args.json) {
      process.stdout.write(`${JSON.stringify({ default: chosen.tensor, layers: model.candidates }, null, 2)}\n`);
      return;
    }
    const rows = model.candidates.map((c) => [
      c === chosen ? '*' : ' ',
      c.tensor,
      c.opType,
      c.tokens
        ? `${c.tokens.count}x${c.channels} -> ${c.height}x${c.width}`
        : c.layout === 'NCHW' ? `${c.channels}x${c.height}x${c.width}` : `${c.height}x${c.width}x${c.channels}`,
      c.layout,
      [
        c.tokens?.skip ? `skips ${c.tokens.skip} token${c.tokens.skip > 1 ? 's' : ''}` : '',
        c.classTokenOnly ? 'class token only (no gradient on patches)' : '',
        c.followedBy ? `then ${c.followedBy.opType} -> ${c.followedBy.tensor}` : '',
      ].filter(Boolean).join('; '),
    ]);
    const header = [' ', 'tensor', 'op', 'shape', 'layout', 'note'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
    process.stdout.write(
      [
        `${model.loaded.file}: input ${model.input.name} ${model.input.layout} ${model.input.channels}x${model.height}x${model.width}, ` +
          `output ${model.output.output} ${model.output.form} (${model.output.kind}), ${model.classes} classes, ` +
          `opset ${model.loaded.exportedOpset !== undefined && model.loaded.exportedOpset !== model.loaded.opset ? `${model.loaded.exportedOpset} (read as ${model.loaded.opset})` : model.loaded.opset}`,
        line(header),
        ...rows.map(line),
        `* = default: the last 4-D activation with spatial extent > 1, or token layer whose patches reach the logits, before the head (${chosen.tensor})`,
        '',
      ].join('\n'),
    );
  },
};
