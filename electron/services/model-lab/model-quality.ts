// Whether a model passes its own evaluation well enough to become the active detector without a
// warning. The floors are stated to the examiner with the reasons; below them, activation needs an
// explicit confirmation that is recorded in the audit chain. They are deliberately modest: they catch
// a model that fails outright. The shipped default, whose threshold was set for few false positives
// on unseen real photographs and which leaves a wide band of scores inconclusive, is below the recall
// floor at its threshold, and the warning says so rather than the floor being bent to fit it.
import type { ModelCard } from '../engine/model-registry';

export const MODEL_QUALITY_FLOORS = {
  /** Test ROC-AUC at least this. */
  rocAuc: 0.75,
  /** Test recall (synthetic images caught) at the card's threshold at least this. */
  recall: 0.4,
  /** Test false-positive rate (real photographs called synthetic) at most this. */
  maxFpr: 0.2,
  /** Test images of each class at least this, or the numbers say little. */
  minTestImagesPerClass: 10,
} as const;

export interface ModelQuality {
  weak: boolean;
  reasons: string[];
  floors: typeof MODEL_QUALITY_FLOORS;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function assessModelQuality(card: ModelCard): ModelQuality {
  const f = MODEL_QUALITY_FLOORS;
  const test = (card.metrics as Record<string, unknown>)?.test as Record<string, unknown> | undefined;
  const reasons: string[] = [];
  if (!test || typeof test !== 'object') {
    reasons.push('it has no evaluation on a test split');
  } else {
    const rocAuc = num(test.rocAuc);
    const recall = num(test.recall);
    const fpr = num(test.fpr);
    const confusion = test.confusion as { tp?: number; fp?: number; tn?: number; fn?: number } | undefined;
    if (rocAuc === null) reasons.push('its test ROC-AUC is undefined');
    else if (rocAuc < f.rocAuc) reasons.push(`test ROC-AUC ${rocAuc.toFixed(3)} is below ${f.rocAuc}`);
    if (recall === null) reasons.push('its test recall is undefined');
    else if (recall < f.recall) {
      const band = (card as { inconclusiveBand?: { low?: number; high?: number } }).inconclusiveBand;
      const share = num(test.inconclusiveShare);
      reasons.push(
        band && typeof band.low === 'number'
          ? `test recall ${recall.toFixed(3)} at its threshold is below ${f.recall}: it calls few synthetic images synthetic; most of the rest fall in its inconclusive band (p ${band.low.toFixed(3)}–${(band.high ?? 0).toFixed(3)}${share !== null ? `, ${Math.round(share * 100)} % of test images` : ''}) rather than being called real`
          : `test recall ${recall.toFixed(3)} is below ${f.recall} (it misses most synthetic images)`,
      );
    }
    if (fpr === null) reasons.push('its test false-positive rate is undefined');
    else if (fpr > f.maxFpr) reasons.push(`test FPR ${fpr.toFixed(3)} is above ${f.maxFpr} (it calls many real photographs synthetic)`);
    if (confusion) {
      const positives = (confusion.tp ?? 0) + (confusion.fn ?? 0);
      const negatives = (confusion.tn ?? 0) + (confusion.fp ?? 0);
      if (Math.min(positives, negatives) < f.minTestImagesPerClass) {
        reasons.push(`its test split is too small to trust (${negatives} real, ${positives} synthetic; at least ${f.minTestImagesPerClass} of each)`);
      }
    }
  }
  return { weak: reasons.length > 0, reasons, floors: f };
}
