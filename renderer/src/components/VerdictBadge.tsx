/** A verdict in words and colour (never colour alone); any verdict string the detector may give is shown. */
export function VerdictBadge({ verdict, failed }: { verdict: string | null | undefined; failed?: boolean }) {
  if (failed) return <span className="badge verdict-failed">analysis failed</span>;
  if (!verdict) return <span className="badge verdict-none">not analysed</span>;
  const known = ['real', 'synthetic', 'inconclusive'].includes(verdict) ? verdict : 'other';
  const mark = known === 'real' ? '✓ ' : known === 'synthetic' ? '⚠ ' : known === 'inconclusive' ? '? ' : '';
  return (
    <span
      className={`badge verdict-${known}`}
      data-verdict={verdict}
      title={known === 'inconclusive' ? "The score fell in the model's inconclusive band, just below its threshold: neither a real nor a synthetic call." : undefined}
    >
      {mark}
      {verdict}
    </span>
  );
}
