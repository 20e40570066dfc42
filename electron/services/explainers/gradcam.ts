// Grad-CAM (Selvaraju et al.): a channel's weight is the spatial mean of the score's gradient.
import { CamExplainer, type CamContext } from './base-explainer';

export class GradCam extends CamExplainer {
  readonly method = 'gradcam' as const;

  protected override channelWeights(ctx: CamContext): Float64Array {
    const g = ctx.gradients!;
    const n = g.height * g.width;
    const weights = new Float64Array(g.channels);
    for (let i = 0; i < n; i++) for (let c = 0; c < g.channels; c++) weights[c] += g.data[i * g.channels + c];
    for (let c = 0; c < g.channels; c++) weights[c] /= n;
    return weights;
  }
}
