// Explains one image with any set of methods: preprocess once, resolve the target, run each method
// (or take it from the cache), draw its overlay, and report per method what it cost.
import fs from 'node:fs/promises';
import path from 'node:path';
import { calibrateScore, type Calibration } from '../engine/operating-point';
import type { Normalisation } from '../engine/preprocess';
import { AblationCam } from './ablationcam';
import type { CamOptions } from './base-explainer';
import { ExplainError } from './explain-errors';
import { prepareExplainInput, type PreparedImage } from './explain-input';
import { EXPLAIN_METHODS, type ExplainInput, type ExplainMethod, type ExplainTarget, type ExplainableModel, type ExplanationMap } from './explain-types';
import { explanationCacheKey, type ExplanationCache } from './explanation-cache';
import { GradCam } from './gradcam';
import { LayerCam } from './layercam';
import { LimeExplainer, type LimeOptions } from './lime/lime-explainer';
import { explainBothViews, FEATURE_MAP_METHODS } from './mirror-views';
import { checkOverlayOptions, renderOverlay, type OverlayOptions } from './overlay';
import { ScoreCam, type ScoreCamOptions } from './scorecam';

export interface MethodOptions {
  gradcam?: CamOptions;
  ablationcam?: CamOptions;
  layercam?: CamOptions;
  scorecam?: ScoreCamOptions;
  lime?: LimeOptions;
}

export interface Explainer {
  readonly method: ExplainMethod;
  params(): Record<string, unknown>;
  explain(input: ExplainInput, target: ExplainTarget): Promise<ExplanationMap>;
}

export function createExplainer(method: ExplainMethod, model: ExplainableModel, options: MethodOptions = {}): Explainer {
  switch (method) {
    case 'gradcam':
      return new GradCam(model, options.gradcam);
    case 'ablationcam':
      return new AblationCam(model, options.ablationcam);
    case 'layercam':
      return new LayerCam(model, options.layercam);
    case 'scorecam':
      return new ScoreCam(model, options.scorecam);
    case 'lime':
      return new LimeExplainer(model, options.lime);
    default:
      throw new ExplainError('EXPLAIN_UNKNOWN_METHOD', `Unknown method "${String(method)}" (known: ${EXPLAIN_METHODS.join(', ')})`);
  }
}

export function parseMethods(list: string): ExplainMethod[] {
  const methods = list
    .split(',')
    .map((m) => m.trim().toLowerCase())
    .filter(Boolean);
  if (methods.length === 0) throw new ExplainError('EXPLAIN_UNKNOWN_METHOD', 'No method given');
  for (const m of methods) {
    if (!(EXPLAIN_METHODS as readonly string[]).includes(m)) {
      throw new ExplainError('EXPLAIN_UNKNOWN_METHOD', `Unknown method "${m}" (known: ${EXPLAIN_METHODS.join(', ')})`);
    }
  }
  return [...new Set(methods)] as ExplainMethod[];
}

export interface ExplainImageOptions {
  model: ExplainableModel;
  normalisation: Normalisation;
  methods?: readonly ExplainMethod[];
  /** 'decision': the class the detector decided at `threshold`. */
  target?: ExplainTarget | 'decision';
  /** On calibrated scores when `calibration` is given (the model card's), as the verdict is. */
  threshold?: number;
  calibration?: Calibration;
  methodOptions?: MethodOptions;
  overlay?: OverlayOptions;
  /** Where <method>.png and <method>.heatmap.json go; nothing is written without it. */
  outDir?: string;
  cache?: ExplanationCache;
  onResult?(result: ExplainResult): void;
}

export interface ExplainResult {
  method: ExplainMethod;
  ms: number;
  cached: boolean;
  target: ExplainTarget;
  peak: { x: number; y: number };
  flat: boolean;
  pSynthetic: number;
  forwardPasses: number;
  headPasses: number;
  params: Record<string, unknown>;
  /** Overlay PNG and heatmap JSON paths, when outDir was given. */
  map?: string;
  heatmap?: string;
  explanation: ExplanationMap;
}

export interface ExplainImageResult {
  imageSha256: string;
  imageWidth: number;
  imageHeight: number;
  model: { id: string; sha256: string };
  pSynthetic: number;
  target: ExplainTarget;
  results: ExplainResult[];
}

export async function resolveTarget(
  model: ExplainableModel,
  input: ExplainInput,
  target: ExplainTarget | 'decision',
  threshold: number,
  calibration?: Calibration,
): Promise<{ target: ExplainTarget; pSynthetic: number }> {
  const { pSynthetic } = await model.predict(input.tensor, 1);
  const p = pSynthetic[0];
  if (target !== 'decision') return { target, pSynthetic: p };
  // The card's threshold is on calibrated scores: compare like with like, as the verdict does.
  return { target: { class: calibrateScore(p, calibration) >= threshold ? 'synthetic' : 'real' }, pSynthetic: p };
}

function heatmapJson(e: ExplanationMap): string {
  const body: Record<string, unknown> = {
    method: e.method,
    target: e.target.class,
    height: e.map.height,
    width: e.map.width,
    peak: e.peak,
    flat: e.flat,
    values: Array.from(e.map.data, (v) => Math.round(v * 1e5) / 1e5),
  };
  if (e.lime) {
    body.lime = {
      segments: Array.from(e.lime.segments),
      weights: Array.from(e.lime.weights),
      intercept: e.lime.intercept,
      score: e.lime.score,
      positive: e.lime.positive,
      negative: e.lime.negative,
    };
  }
  return JSON.stringify(body);
}

export async function explainImage(image: string | Buffer | PreparedImage, options: ExplainImageOptions): Promise<ExplainImageResult> {
  const { model } = options;
  const methods = options.methods ?? EXPLAIN_METHODS;
  const threshold = options.threshold ?? 0.5;
  if (!(threshold >= 0 && threshold <= 1)) throw new ExplainError('EXPLAIN_BAD_PARAMS', `threshold must be in [0,1], got ${threshold}`);
  const overlay = checkOverlayOptions(options.overlay ?? {});
  // Build every explainer first so bad parameters fail before any work.
  const explainers = methods.map((m) => createExplainer(m, model, options.methodOptions));
  const input =
    typeof image === 'string' || Buffer.isBuffer(image) ? await prepareExplainInput(image, { inputSize: model.inputSize, normalisation: options.normalisation }) : image;
  const { target, pSynthetic } = await resolveTarget(model, input, options.target ?? 'decision', threshold, options.calibration);
  if (options.outDir) await fs.mkdir(options.outDir, { recursive: true });
  const results: ExplainResult[] = [];
  for (const explainer of explainers) {
    const started = performance.now();
    const key = options.cache
      ? explanationCacheKey({ imageSha256: input.sha256, modelSha256: model.sha256, method: explainer.method, target, params: explainer.params() })
      : undefined;
    let explanation = key ? await options.cache!.get(key) : undefined;
    const cached = explanation !== undefined;
    if (!explanation) {
      explanation =
        model.mirrored && FEATURE_MAP_METHODS.includes(explainer.method)
          ? await explainBothViews((i, t) => explainer.explain(i, t), input, target, model.inputSize)
          : await explainer.explain(input, target);
      if (key) await options.cache!.put(key, explanation);
    }
    const ms = performance.now() - started;
    const result: ExplainResult = {
      method: explainer.method,
      ms,
      cached,
      target,
      peak: explanation.peak,
      flat: explanation.flat,
      pSynthetic: explanation.pSynthetic,
      forwardPasses: cached ? 0 : explanation.forwardPasses,
      headPasses: cached ? 0 : explanation.headPasses,
      params: explanation.params,
      explanation,
    };
    if (options.outDir) {
      const { png } = await renderOverlay(input.bytes, explanation, overlay);
      result.map = path.join(options.outDir, `${explainer.method}.png`);
      result.heatmap = path.join(options.outDir, `${explainer.method}.heatmap.json`);
      await fs.writeFile(result.map, png);
      await fs.writeFile(result.heatmap, heatmapJson(explanation));
    }
    results.push(result);
    options.onResult?.(result);
  }
  return { imageSha256: input.sha256, imageWidth: input.imageWidth, imageHeight: input.imageHeight, model: { id: model.id, sha256: model.sha256 }, pSynthetic, target, results };
}
