import type { GradRule } from '../types.ts';

/** y = x  =>  dx = dy. */
export const identity: GradRule = (ctx) => ({ grads: [ctx.gradOutput(0)] });

/** Inference Dropout is the identity (ORT drops only with training_mode = true)  =>  dx = dy. */
export const dropout: GradRule = (ctx) => {
  const mode = ctx.input(2);
  if (mode) {
    const value = ctx.constantValues(mode);
    if (!value) return ctx.fail('its training_mode input is computed at run time; heatgate needs inference Dropout (training_mode constant false)');
    if (value[0]) return ctx.fail('training_mode is true, so the output is random; export the model in eval mode');
  }
  return { grads: [ctx.gradOutput(0), null, null] };
};

/** y = cast(x) between float types  =>  dx = cast(dy) back to x's type. Casts to integers carry no gradient. */
export const cast: GradRule = (ctx) => ({ grads: [ctx.op('Cast', [ctx.gradOutput(0)], { to: ctx.elemType(ctx.input(0)) }, 'dx')] });
