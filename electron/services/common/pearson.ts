// Pearson correlation, shared by the explainers' fidelity checks (Spearman = Pearson of ranks) and
// the provenance reader's thumbnail comparison.

/**
 * The Pearson correlation of two series of equal length; 0 when one side is constant (there is no
 * variation to agree with), `bothConstant` when both are.
 */
export function pearsonCorrelation(a: ArrayLike<number>, b: ArrayLike<number>, bothConstant = 0): number {
  if (a.length !== b.length) throw new RangeError('pearsonCorrelation: lengths differ');
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 && sbb === 0) return bothConstant;
  return saa === 0 || sbb === 0 ? 0 : sab / Math.sqrt(saa * sbb);
}
