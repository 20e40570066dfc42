import { useEffect, useState } from 'react';
import type { ForensicApiClient, ProvenanceFindingInfo, ProvenanceImageInfo } from '../../../../electron/shared/api-contract';

// Self-contained: it takes the API client as a prop and uses no app styles, so it can be mounted
// wherever the evidence view puts it.
const box = { border: '1px solid #c9d1db', padding: '0.5rem 0.75rem', margin: '0.5rem 0' } as const;
const cell = { border: '1px solid #c9d1db', padding: '0.2rem 0.5rem', textAlign: 'left', verticalAlign: 'top' } as const;
const figure = { margin: 0, flex: '1 1 0', minWidth: 0 } as const;
const image = { width: '100%', height: 'auto', border: '1px solid #c9d1db', imageRendering: 'pixelated' } as const;

const VIEW_LABELS: Record<string, string> = {
  spectrum: 'Log spectrum of the noise residual',
  ela: 'Error level analysis',
  noise: 'Noise residual',
};

type Status = { state: 'idle' } | { state: 'busy'; what: string } | { state: 'error'; message: string };

/** The azimuthally averaged power spectrum as a small line plot (data, not a picture of data). */
function RadialPlot({ points }: { points: { frequency: number; logPower: number }[] }) {
  if (points.length < 2) return null;
  const w = 240;
  const h = 80;
  const ys = points.map((p) => p.logPower);
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const path = points
    .map((p, i) => `${i ? 'L' : 'M'}${((p.frequency / 0.5) * w).toFixed(1)},${(h - ((p.logPower - lo) / (hi - lo || 1)) * h).toFixed(1)}`)
    .join(' ');
  return (
    <svg width={w} height={h + 14} role="img" aria-label="Azimuthally averaged power spectrum" data-testid="radial-plot">
      <path d={path} fill="none" stroke="#1f5fa8" strokeWidth={1.5} />
      <text x={0} y={h + 12} fontSize={10}>
        0
      </text>
      <text x={w} y={h + 12} fontSize={10} textAnchor="end">
        0.5 cycles/px
      </text>
    </svg>
  );
}

export function ProvenancePanel({ evidenceId, name, client }: { evidenceId: string; name?: string; client: ForensicApiClient }) {
  const [finding, setFinding] = useState<ProvenanceFindingInfo | null>(null);
  const [images, setImages] = useState<ProvenanceImageInfo[]>([]);
  const [status, setStatus] = useState<Status>({ state: 'busy', what: 'loading' });
  const [elaQuality, setElaQuality] = useState(90);

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const list = await client.call('provenance.list', { evidenceId });
        const latest = list.at(-1) ?? null;
        if (!live) return;
        setFinding(latest);
        if (latest) {
          setStatus({ state: 'busy', what: 'computing views' });
          const views = await client.call('provenance.views', { evidenceId });
          if (live) setImages(views.images);
        }
        if (live) setStatus({ state: 'idle' });
      } catch (e) {
        if (live) setStatus({ state: 'error', message: (e as Error).message });
      }
    })();
    return () => {
      live = false;
    };
  }, [evidenceId, client]);

  async function inspect() {
    try {
      setStatus({ state: 'busy', what: 'inspecting' });
      const result = await client.call('provenance.inspect', { evidenceId, elaQuality });
      setFinding(result.finding);
      setImages(result.images);
      setStatus({ state: 'idle' });
    } catch (e) {
      setStatus({ state: 'error', message: (e as Error).message });
    }
  }

  const r = finding?.report;
  const m = r?.metadata;
  return (
    <section aria-label={`Provenance of ${name ?? evidenceId}`} data-testid="provenance-panel" style={box}>
      <h3>Provenance{name ? `: ${name}` : ''}</h3>
      <p>
        <label>
          ELA quality{' '}
          <input type="number" min={50} max={100} value={elaQuality} onChange={(e) => setElaQuality(Number(e.target.value))} style={{ width: '4rem' }} />
        </label>{' '}
        <button onClick={inspect} disabled={status.state === 'busy'}>
          {finding ? 'Inspect again' : 'Inspect provenance'}
        </button>
        {status.state === 'busy' && <span data-testid="provenance-status"> {status.what}…</span>}
      </p>
      {status.state === 'error' && <p role="alert">{status.message}</p>}
      {!finding && status.state === 'idle' && <p>Not inspected yet.</p>}
      {finding && r && (
        <>
          <div style={box} data-testid="provenance-finding">
            <p>
              <strong>{r.finding.conclusion}</strong>: {r.finding.basis}
              {r.finding.edited ? ' (signs of editing)' : ''}
            </p>
            {r.finding.disagreement && <p data-testid="provenance-disagreement">⚠ {r.finding.disagreement}</p>}
            <ul>
              {r.finding.weighing.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
            <table style={{ borderCollapse: 'collapse' }}>
              <thead>
                <tr>
                  <th style={cell}>Witness</th>
                  <th style={cell}>Says</th>
                  <th style={cell}>Weight</th>
                  <th style={cell}>Statement</th>
                </tr>
              </thead>
              <tbody>
                {r.finding.witnesses.map((w, i) => (
                  <tr key={i}>
                    <td style={cell}>{w.source}</td>
                    <td style={cell}>{w.says}</td>
                    <td style={cell}>{w.weight}</td>
                    <td style={cell}>{w.statement}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p style={{ fontSize: '0.8rem' }}>
              Recorded {new Date(finding.createdAt).toLocaleString()} by {finding.createdBy} · readers{' '}
              {Object.entries(finding.readerVersions)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}{' '}
              · report sha256 <code>{finding.reportSha256.slice(0, 16)}…</code>
            </p>
          </div>

          <div style={box} data-testid="provenance-c2pa">
            <h4>Content credentials (C2PA)</h4>
            <p>{r.c2pa.statement}</p>
            {r.c2pa.claimGenerator && <p>Claim generator: {r.c2pa.claimGenerator}</p>}
            {r.c2pa.signer && (
              <p>
                Signer: {r.c2pa.signer.subject} (issued by {r.c2pa.signer.issuer}; valid {r.c2pa.signer.notBefore.slice(0, 10)} to {r.c2pa.signer.notAfter.slice(0, 10)})
              </p>
            )}
            {r.c2pa.actions.length > 0 && (
              <ul>
                {r.c2pa.actions.map((a, i) => (
                  <li key={i}>
                    {a.action}
                    {a.digitalSourceType ? ` · ${a.digitalSourceType.split('/').pop()}` : ''}
                    {a.softwareAgent ? ` · ${a.softwareAgent}` : ''}
                  </li>
                ))}
              </ul>
            )}
            {r.c2pa.ingredients.length > 0 && <p>Ingredients: {r.c2pa.ingredients.map((g) => `${g.title ?? '?'} (${g.relationship ?? '?'})`).join(', ')}</p>}
          </div>

          {r.signatures.length > 0 && (
            <div style={box} data-testid="provenance-signatures">
              <h4>Generator traces</h4>
              <ul>
                {r.signatures.map((s, i) => (
                  <li key={i}>
                    <strong>{s.generator}</strong>: {s.description} at byte {s.proof.offset} — <code>{s.proof.excerpt}</code>
                    {Object.keys(s.settings).length > 0 && (
                      <span>
                        {' '}
                        (
                        {Object.entries(s.settings)
                          .map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…` : v}`)
                          .join('; ')}
                        )
                      </span>
                    )}
                  </li>
                ))}
              </ul>
            </div>
          )}

          <div style={box} data-testid="provenance-views">
            <h4>Forensic views</h4>
            <div style={{ display: 'flex', gap: '0.75rem' }}>
              {images.map((img) => (
                <figure key={img.kind} style={figure}>
                  <img src={img.dataUrl} alt={VIEW_LABELS[img.kind] ?? img.kind} style={image} />
                  <figcaption style={{ fontSize: '0.8rem' }}>
                    {VIEW_LABELS[img.kind] ?? img.kind}
                    {img.kind === 'ela' && r.views ? ` at quality ${r.views.ela.quality}, ×${r.views.ela.amplification}` : ''}
                    {img.matchesRecord === false ? ' (differs from the recorded view)' : ''}
                  </figcaption>
                </figure>
              ))}
            </div>
            {r.views?.spectrum && (
              <>
                <RadialPlot points={r.views.spectrum.radialPower} />
                <p>
                  {r.views.spectrum.peaks.length === 0
                    ? 'No periodic spectral peaks.'
                    : `Spectral peaks: ${r.views.spectrum.peaks
                        .slice(0, 8)
                        .map((p) => `(${p.fx.toFixed(3)}, ${p.fy.toFixed(3)}) ${p.note?.includes('JPEG') ? 'JPEG grid' : p.spectrum}`)
                        .join('; ')}`}
                </p>
              </>
            )}
            {r.views && <p>ELA mean error {r.views.ela.meanError}, max {r.views.ela.maxError}.</p>}
          </div>

          {m && (
            <div style={box} data-testid="provenance-metadata">
              <h4>Metadata</h4>
              {m.gps && (
                <p>
                  GPS in the file: {m.gps.latitude.toFixed(5)}, {m.gps.longitude.toFixed(5)} (shown here only; never sent anywhere)
                </p>
              )}
              {m.thumbnail && <p>EXIF thumbnail: {m.thumbnail.matchesImage === false ? 'shows another picture' : m.thumbnail.matchesImage ? 'matches the image' : 'not compared'}</p>}
              {r.quantisation && <p>JPEG quantisation: {r.quantisation.interpretation}</p>}
              <table style={{ borderCollapse: 'collapse' }}>
                <thead>
                  <tr>
                    <th style={cell}>Block</th>
                    <th style={cell}>Tag</th>
                    <th style={cell}>Value</th>
                  </tr>
                </thead>
                <tbody>
                  {m.rows.map((row, i) => (
                    <tr key={i}>
                      <td style={cell}>{row.group}</td>
                      <td style={cell}>{row.name}</td>
                      <td style={cell}>{row.value}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}

          {r.unreadable.length > 0 && (
            <div style={box} data-testid="provenance-unreadable">
              <h4>Unreadable</h4>
              <ul>
                {r.unreadable.map((u, i) => (
                  <li key={i}>
                    unreadable: {u.reader}: {u.why}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </>
      )}
    </section>
  );
}
