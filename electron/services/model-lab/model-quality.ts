// Whether a model passes its own evaluation well enough to become the active detector without a
// warning. The floors are stated to the examiner with the reasons; below them, activation needs an
// explicit confirmation that is recorded in the audit chain. They are deliberately modest (the
// shipped default passes them): they catch a model that fails outright, not one that is merely weak.
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
    else if (recall < f.recall) reasons.push(`test recall ${recall.toFixed(3)} is below ${f.recall} (it misses most synthetic images)`);
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
