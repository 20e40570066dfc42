// Weighted ridge regression with an unpenalised intercept, as sklearn's Ridge(alpha).fit(X, y,
// sample_weight) that LIME uses: centre X and y with the weighted means, solve
// (XᵀWX + αI)β = XᵀWy by Cholesky, intercept = ȳ − x̄·β.
import { ExplainError } from '../explain-errors';

export interface RidgeFit {
  coef: Float64Array;
  intercept: number;
  /** Weighted R² on the training samples (LIME's "score"). */
  r2: number;
}

/** rows × cols design matrix, row-major. */
export function weightedRidge(X: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number>, rows: number, cols: number, alpha = 1): RidgeFit {
  if (X.length !== rows * cols || y.length !== rows || w.length !== rows) throw new ExplainError('EXPLAIN_BAD_INPUT', 'ridge: shapes do not match');
  let sw = 0;
  for (let r = 0; r < rows; r++) {
    if (!(w[r] >= 0)) throw new ExplainError('EXPLAIN_BAD_INPUT', 'ridge: weights must be ≥ 0');
    sw += w[r];
  }
  if (!(sw > 0)) throw new ExplainError('EXPLAIN_BAD_INPUT', 'ridge: all sample weights are zero');
  const xm = new Float64Array(cols);
  let ym = 0;
  for (let r = 0; r < rows; r++) {
    ym += w[r] * y[r];
    for (let c = 0; c < cols; c++) xm[c] += w[r] * X[r * cols + c];
  }
  ym /= sw;
  for (let c = 0; c < cols; c++) xm[c] /= sw;
  const A = new Float64Array(cols * cols);
  const b = new Float64Array(cols);
  const xc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const wr = w[r];
    if (wr === 0) continue;
    for (let c = 0; c < cols; c++) xc[c] = X[r * cols + c] - xm[c];
    const yc = y[r] - ym;
    for (let i = 0; i < cols; i++) {
      const wi = wr * xc[i];
      b[i] += wi * yc;
      for (let j = 0; j <= i; j++) A[i * cols + j] += wi * xc[j];
    }
  }
  for (let i = 0; i < cols; i++) {
    A[i * cols + i] += alpha;
    for (let j = 0; j < i; j++) A[j * cols + i] = A[i * cols + j];
  }
  const coef = solveSpd(A, b, cols);
  let intercept = ym;
  for (let c = 0; c < cols; c++) intercept -= xm[c] * coef[c];
  let ssRes = 0;
  let ssTot = 0;
  for (let r = 0; r < rows; r++) {
    let pred = intercept;
    for (let c = 0; c < cols; c++) pred += coef[c] * X[r * cols + c];
    ssRes += w[r] * (y[r] - pred) ** 2;
    ssTot += w[r] * (y[r] - ym) ** 2;
  }
  return { coef, intercept, r2: ssTot > 0 ? 1 - ssRes / ssTot : 1 };
}

/** Cholesky solve of a symmetric positive-definite system (ridge makes it so for alpha > 0). */
export function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const Lm = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= Lm[i * n + k] * Lm[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new ExplainError('EXPLAIN_BAD_INPUT', 'ridge: system is not positive definite');
        Lm[i * n + i] = Math.sqrt(s);
      } else {
        Lm[i * n + j] = s / Lm[j * n + j];
      }
    }
  }
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= Lm[i * n + k] * z[k];
    z[i] = s / Lm[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < n; k++) s -= Lm[k * n + i] * x[k];
    x[i] = s / Lm[i * n + i];
  }
  return x;
}
