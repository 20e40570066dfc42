// Shapes and Keras padding arithmetic shared by the graph builders that walk a backbone's layers
// in NCHW (the explainers' gradient graph and the training graph).

export interface Shape {
  c: number;
  h: number;
  w: number;
}

/** A forward value in a graph: its NCHW tensor name and shape. */
export interface Value {
  name: string;
  shape: Shape;
}

/** A Keras size or stride attribute (a number or an [h, w] pair) as [h, w]. */
export function pair(v: unknown, fallback: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  if (typeof v === 'number') return [v, v];
  return [fallback, fallback];
}

/**
 * Output size and the padding before/after of one spatial axis for Keras "valid" or "same"
 * (TensorFlow puts the odd cell after); null for a mode the builders do not know.
 */
export function kerasPadding(mode: unknown, inSize: number, k: number, s: number): { out: number; before: number; after: number } | null {
  if (mode === 'valid' || mode === undefined) return { out: Math.floor((inSize - k) / s) + 1, before: 0, after: 0 };
  if (mode === 'same') {
    const out = Math.ceil(inSize / s);
    const total = Math.max((out - 1) * s + k - inSize, 0);
    return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
  }
  return null;
}
