/** Numbers as the lab prints them: fixed digits, "n/a" for a metric that is undefined on the data. */
export function fmt(v: unknown, digits = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

export function fmtPercent(v: unknown, digits = 1): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(digits)} %` : 'n/a';
}

export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export const METRIC_COLUMNS = [
  ['precision', 'Precision'],
  ['recall', 'Recall'],
  ['f1', 'F1'],
  ['accuracy', 'Accuracy'],
  ['ap', 'AP'],
  ['rocAuc', 'ROC-AUC'],
  ['fpr', 'FPR'],
  ['fnr', 'FNR'],
] as const;

/** Who reads what from a card (cards are open records; older ones lack some fields). */
export function cardField(card: Record<string, unknown>, ...keys: string[]): unknown {
  let v: unknown = card;
  for (const k of keys) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}
