// Ablation-CAM (Desai & Ramaswamy): a channel's weight is the relative drop of the score when that
// channel is zeroed, (s − s_c) / s. All channels are ablated at the head's feature layer in one
// batched head evaluation (head-math's rank-one form); no backbone pass beyond the first.
import { CamExplainer, type CamContext, type CamOptions } from './base-explainer';
import { ExplainError } from './explain-errors';
import type { ExplainableModel } from './explain-types';
import { ablatedHeadScores, globalAveragePool, headForward, targetScore } from './head-math';

export class AblationCam extends CamExplainer {
  readonly method = 'ablationcam' as const;
  protected override readonly usesGradients = false;

  constructor(model: ExplainableModel, options: CamOptions = {}) {
    if (options.layer && options.layer !== model.featureLayer) {
      throw new ExplainError('EXPLAIN_LAYER_UNAVAILABLE', `AblationCAM ablates the head's input; only layer "${model.featureLayer}" is supported`);
    }
    super(model, options);
  }

  protected override channelWeights(ctx: CamContext): Float64Array {
    const pooled = globalAveragePool(ctx.activations);
    // The head's score of this view, not the detector's p: a mirrored detector averages two views,
    // and the ablations below change this one.
    const score = targetScore(headForward(this.model.head, pooled, ctx.headContext).pSynthetic, ctx.target);
    const ablated = ablatedHeadScores(this.model.head, pooled, ctx.target, ctx.headContext);
    ctx.headPasses += ablated.length;
    const weights = new Float64Array(ablated.length);
    // pytorch-grad-cam divides by the score too; guard the division when the score is ~0.
    const denom = Math.max(score, 1e-7);
    for (let c = 0; c < weights.length; c++) weights[c] = (score - ablated[c]) / denom;
    return weights;
  }
}
