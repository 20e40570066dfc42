// From the detector's raw p(synthetic) to what an examiner reads: a calibrated probability and one
// of three verdicts. The model card carries the calibration (Platt scaling fitted on held-out
// validation folds) and the operating point: the threshold chosen for a stated false-positive rate
// on held-out real photographs, and below it an "inconclusive" band, also chosen on validation,
// where the detector cannot tell the classes apart well enough to say either.
import { z } from 'zod';
import type { CropAggregate, InputMode } from './multi-crop';

export type Verdict = 'synthetic' | 'real' | 'inconclusive';

export const calibrationSchema = z.object({
  /** p = sigmoid(a · logit(raw) + b); temperature scaling is the case b = 0, a = 1/T. */
  method: z.enum(['platt', 'temperature']),
  a: z.number().finite(),
  b: z.number().finite(),
});
export type Calibration = z.infer<typeof calibrationSchema>;

export const inconclusiveBandSchema = z
  .object({
    /** Calibrated p(synthetic) from `low` up to (not including) the threshold reads "inconclusive". */
    low: z.number().min(0).max(1),
    high: z.number().min(0).max(1),
  })
  .refine((b) => b.low <= b.high, 'low must not exceed high');
export type InconclusiveBand = z.infer<typeof inconclusiveBandSchema>;

export const inferenceSchema = z.object({
  inputMode: z.enum(['resize', 'crops']),
  maxCrops: z.number().int().min(1).max(64).optional(),
  aggregate: z.enum(['mean-logit', 'max']).optional(),
  /**
   * Each image (each window) is also read mirrored left to right and the two logits averaged, inside
   * the detector ONNX: a verdict then cannot change when the evidence is mirrored.
   */
  mirror: z.boolean().optional(),
});

export interface OperatingPoint {
  threshold: number;
  band?: InconclusiveBand;
  calibration?: Calibration;
}

const clampLogit = (p: number) => {
  const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  return Math.log(q / (1 - q));
};

/** The calibrated probability of a raw sigmoid output (unchanged without a calibration). */
export function calibrateScore(raw: number, calibration?: Calibration): number {
  if (!calibration || !Number.isFinite(raw)) return raw;
  const z = calibration.a * clampLogit(raw) + (calibration.method === 'platt' ? calibration.b : 0);
  return 1 / (1 + Math.exp(-z));
}

export function verdictFor(p: number, op: Pick<OperatingPoint, 'threshold' | 'band'>): Verdict {
  if (p >= op.threshold) return 'synthetic';
  if (op.band && p >= Math.min(op.band.low, op.threshold)) return 'inconclusive';
  return 'real';
}

/**
 * The operating point a card states. An explicit threshold (the --threshold option) replaces the
 * card's and drops its band: the band was chosen for the card's threshold, not for another one.
 */
export function operatingPointOf(card: Record<string, unknown> & { threshold: number }, override?: number): OperatingPoint {
  const calibration = card.calibration === undefined ? undefined : calibrationSchema.parse(card.calibration);
  if (override !== undefined) return { threshold: override, calibration };
  const band = card.inconclusiveBand === undefined ? undefined : inconclusiveBandSchema.parse(card.inconclusiveBand);
  return { threshold: card.threshold, band, calibration };
}

/** How the card says its detector reads a file (the paper's whole-image resize when it says nothing). */
export function inferenceOf(card: Record<string, unknown> & { inference?: unknown }): { inputMode: InputMode; maxCrops?: number; aggregate?: CropAggregate; mirror?: boolean } {
  return card.inference === undefined ? { inputMode: 'resize' } : inferenceSchema.parse(card.inference);
}
