// LayerCAM (Jiang et al.): every position keeps its own positive gradient, relu(grad) · activation,
// which is what makes shallow layers (finer maps) usable. The default layer is the model's
// shallowest offered layer; at the head's feature layer it reduces to a positive-weight Grad-CAM.
import { CamExplainer, type CamContext, type CamOptions } from './base-explainer';
import type { ExplainableModel } from './explain-types';

export class LayerCam extends CamExplainer {
  readonly method = 'layercam' as const;

  constructor(model: ExplainableModel, options: CamOptions = {}) {
    super(model, { layer: options.layer ?? model.shallowLayers[0] ?? model.featureLayer });
  }

  protected override async spatialMap(ctx: CamContext): Promise<Float64Array> {
    const a = ctx.activations;
    const g = ctx.gradients!;
    const out = new Float64Array(a.height * a.width);
    for (let i = 0; i < out.length; i++) {
      const o = i * a.channels;
      let s = 0;
      for (let c = 0; c < a.channels; c++) {
        const gr = g.data[o + c];
        if (gr > 0) s += gr * a.data[o + c];
      }
      out[i] = s;
    }
    return out;
  }
}
