import { useCallback, useEffect, useLayoutEffect, useRef, useState, type PointerEvent as ReactPointerEvent, type ReactNode } from 'react';
import type { CaseInfo, ExplainParameters } from '../../../../electron/shared/api-contract';
import { getApiClient } from '../../api/api-client';
import { useApiCall } from '../../api/use-api';
import { useJob } from '../../api/use-job';
import { ErrorMessage } from '../../components/ErrorMessage';
import { ProgressBar } from '../../components/ProgressBar';
import { VerdictBadge } from '../../components/VerdictBadge';
import type { GridItem } from './EvidenceGrid';
import { actualSizeTransform, cssTransform, fitTransform, panBy, zoomAt, type ViewTransform } from './view-transform';

type Method = 'gradcam' | 'ablationcam' | 'layercam' | 'scorecam' | 'lime';
export const METHODS: Array<{ id: Method; label: string }> = [
  { id: 'gradcam', label: 'GradCAM' },
  { id: 'ablationcam', label: 'AblationCAM' },
  { id: 'layercam', label: 'LayerCAM' },
  { id: 'scorecam', label: 'Faster ScoreCAM' },
  { id: 'lime', label: 'LIME' },
];

type Explanation = { id: string; method: string; parameters: Record<string, unknown>; createdAt: string; overlay: string | null; overlayProblem?: string };

function describeAction(action: string, details: Record<string, unknown>): string {
  switch (action) {
    case 'evidence.ingested':
      return details.origin === 'upload' ? 'ingested (uploaded; original path unknown)' : `ingested from ${String(details.originalPath)}`;
    case 'evidence.duplicate':
      return `the same file was offered again (${String(details.originalPath)}) and not added`;
    case 'analysis.recorded':
      return `analysed: ${String(details.verdict)}, p(synthetic) ${Number(details.pSynthetic).toFixed(4)}`;
    case 'analysis.failed':
      return `analysis failed: ${String(details.message)}`;
    case 'explanation.recorded':
      return `explained with ${String(details.method)}`;
    case 'note.added':
      return `note: ${String(details.body)}`;
    case 'tag.added':
      return `tagged "${String(details.tag)}"`;
    case 'tag.removed':
      return `tag "${String(details.tag)}" removed`;
    default:
      return action;
  }
}

/** One panel: the original, optionally with an explanation overlay, drawn with the shared transform. */
function ImagePanel(props: {
  index: number;
  label: string;
  original: { url: string; width: number; height: number };
  overlay?: string | null;
  opacity: number;
  transform: ViewTransform;
  onTransform(update: (t: ViewTransform) => ViewTransform): void;
  status?: ReactNode;
  panelRef?: (el: HTMLDivElement | null) => void;
}) {
  const drag = useRef<{ x: number; y: number } | null>(null);
  const el = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    const node = el.current;
    if (!node) return;
    // Non-passive so the page does not scroll while zooming.
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = node.getBoundingClientRect();
      props.onTransform((t) => zoomAt(t, Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top));
    };
    node.addEventListener('wheel', onWheel, { passive: false });
    return () => node.removeEventListener('wheel', onWheel);
  }, [props.onTransform]);
  const down = (e: ReactPointerEvent) => {
    drag.current = { x: e.clientX, y: e.clientY };
    (e.target as Element).setPointerCapture?.(e.pointerId);
  };
  const move = (e: ReactPointerEvent) => {
    if (!drag.current) return;
    const dx = e.clientX - drag.current.x;
    const dy = e.clientY - drag.current.y;
    drag.current = { x: e.clientX, y: e.clientY };
    props.onTransform((t) => panBy(t, dx, dy));
  };
  const style = { width: props.original.width, height: props.original.height, transform: cssTransform(props.transform), transformOrigin: '0 0' };
  return (
    <figure className="panel" data-testid={`panel-${props.index}`} aria-label={`${props.index}: ${props.label}`}>
      <figcaption>
        <kbd>{props.index}</kbd> {props.label} {props.status}
      </figcaption>
      <div
        className="viewport"
        tabIndex={0}
        ref={(node) => {
          el.current = node;
          props.panelRef?.(node);
        }}
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={() => (drag.current = null)}
        onPointerCancel={() => (drag.current = null)}
        data-transform={cssTransform(props.transform)}
        aria-label={`${props.label} panel: drag to pan, wheel to zoom`}
      >
        <div className="layer" style={style} data-testid={`layer-${props.index}`}>
          <img src={props.original.url} width={props.original.width} height={props.original.height} alt={props.overlay === undefined ? 'Original image' : ''} draggable={false} />
          {props.overlay && (
            <img
              className="overlay"
              src={props.overlay}
              style={{ opacity: props.opacity, width: props.original.width, height: props.original.height }}
              alt={`${props.label} heatmap`}
              draggable={false}
            />
          )}
        </div>
      </div>
    </figure>
  );
}

export function EvidenceViewer(props: { item: GridItem; openCase: CaseInfo; onClose(): void; onChanged(): void; provenancePanel?: ReactNode }) {
  const { evidence, analysis } = props.item;
  const client = getApiClient();
  const [original, setOriginal] = useState<{ url: string; width: number; height: number } | null>(null);
  const [originalProblem, setOriginalProblem] = useState<string | null>(null);
  const [transform, setTransform] = useState<ViewTransform>({ scale: 1, x: 0, y: 0 });
  const [opacity, setOpacity] = useState(1);
  const [explainJobId, setExplainJobId] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [target, setTarget] = useState<'' | 'synthetic' | 'real'>('');
  const [params, setParams] = useState<Record<string, Record<string, string>>>({});
  const [note, setNote] = useState('');
  const [tag, setTag] = useState('');
  const panels = useRef<Array<HTMLDivElement | null>>([]);
  const job = useJob(explainJobId);
  // Each finished method is recorded at once: refetch on every step, not only at the end.
  const explanations = useApiCall('explanations.list', { evidenceId: evidence.id }, [evidence.id, refresh, job?.progress.done, job?.status]);
  const notes = useApiCall('notes.list', { evidenceId: evidence.id }, [evidence.id, refresh]);
  const history = useApiCall('evidence.history', { evidenceId: evidence.id }, [evidence.id, refresh, job?.status]);
  const byMethod = new Map<string, Explanation>((explanations.state === 'ready' ? explanations.value : []).map((e) => [e.method, e]));
  const layersOffered = [...byMethod.values()].flatMap((e) => (Array.isArray(e.parameters.layersOffered) ? (e.parameters.layersOffered as string[]) : []));
  const layers = [...new Set(layersOffered.length ? layersOffered : [...byMethod.values()].map((e) => String(e.parameters.layer ?? '')).filter(Boolean))];

  useEffect(() => {
    let live = true;
    void client.call('evidence.original', { evidenceId: evidence.id }).then(
      (o) => live && (o.dataUrl !== null ? setOriginal({ url: o.dataUrl, width: o.width, height: o.height }) : setOriginalProblem(o.problem)),
      (e) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [evidence.id]);

  const panelSize = () => {
    const el = panels.current.find(Boolean);
    return el ? { width: el.clientWidth, height: el.clientHeight } : { width: 400, height: 300 };
  };
  const fit = useCallback(() => original && setTransform(fitTransform(original, panelSize())), [original]);
  useLayoutEffect(() => {
    fit();
  }, [original]);
  const zoom = (factor: number) => {
    const s = panelSize();
    setTransform((t) => zoomAt(t, factor, s.width / 2, s.height / 2));
  };
  const onTransform = useCallback((update: (t: ViewTransform) => ViewTransform) => setTransform(update), []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLElement && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
      if (e.key === 'Escape') props.onClose();
      if (typing) return;
      if (e.key === '+' || e.key === '=') zoom(1.25);
      else if (e.key === '-') zoom(0.8);
      else if (e.key === '0') fit();
      else if (/^[1-6]$/.test(e.key)) panels.current[Number(e.key) - 1]?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [fit]);

  const parameters = (only?: Method): ExplainParameters => {
    const num = (v: string | undefined) => (v && Number.isFinite(Number(v)) ? Number(v) : undefined);
    const p: ExplainParameters = {};
    if (target) p.target = target;
    const want = (m: Method) => !only || only === m;
    if (want('gradcam') && params.gradcam?.layer) p.gradcam = { layer: params.gradcam.layer };
    if (want('layercam') && params.layercam?.layer) p.layercam = { layer: params.layercam.layer };
    if (want('scorecam') && num(params.scorecam?.topK)) p.scorecam = { topK: num(params.scorecam?.topK) };
    if (want('lime') && (num(params.lime?.samples) || num(params.lime?.segments))) p.lime = { samples: num(params.lime?.samples), segments: num(params.lime?.segments) };
    return p;
  };

  async function explain(methods?: Method[]) {
    try {
      setError(null);
      const request = { kind: 'explanation.run' as const, evidenceId: evidence.id, ...(methods ? { methods } : {}), parameters: parameters(methods?.length === 1 ? methods[0] : undefined) };
      setExplainJobId((await client.call('jobs.start', request)).jobId);
    } catch (e) {
      setError(e);
    }
  }

  async function saveNote() {
    if (!note.trim()) return;
    try {
      setError(null);
      await client.call('notes.add', { evidenceId: evidence.id, body: note });
      setNote('');
      setRefresh((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  }

  async function changeTag(add: boolean, value: string) {
    if (!value.trim()) return;
    try {
      setError(null);
      await client.call(add ? 'tags.add' : 'tags.remove', { evidenceId: evidence.id, tag: value.trim() });
      setTag('');
      setRefresh((n) => n + 1);
      props.onChanged();
    } catch (e) {
      setError(e);
    }
  }

  const running = job?.status === 'running';
  const setParam = (m: Method, k: string, v: string) => setParams((p) => ({ ...p, [m]: { ...p[m], [k]: v } }));
  const jobResult = job?.status === 'done' ? (job.result as { explanations: Array<{ method: string; reused: boolean }> }) : undefined;

  return (
    <div className="viewer" role="dialog" aria-modal="true" aria-label={`Viewer: ${evidence.originalName}`} data-testid="viewer">
      <header className="viewer-bar">
        <h3>{evidence.originalName}</h3>
        <VerdictBadge verdict={analysis?.verdict} failed={!analysis && !!props.item.failed} />
        <div className="toolbar" aria-label="Zoom">
          <button onClick={() => zoom(0.8)} aria-label="Zoom out">
            −
          </button>
          <span data-testid="zoom-level" className="zoom-level">
            {Math.round(transform.scale * 100)}%
          </span>
          <button onClick={() => zoom(1.25)} aria-label="Zoom in">
            +
          </button>
          <button onClick={fit}>Fit</button>
          <button onClick={() => original && setTransform(actualSizeTransform(original, panelSize()))}>1:1</button>
          <label>
            Heatmap opacity{' '}
            <input type="range" min={0} max={1} step={0.05} value={opacity} onChange={(e) => setOpacity(Number(e.target.value))} aria-label="Heatmap opacity" />
          </label>
        </div>
        <button onClick={props.onClose} aria-label="Close viewer (Esc)">
          Close
        </button>
      </header>
      <div className="viewer-body">
        <div className="panels" data-testid="heatmaps">
          {originalProblem && <ErrorMessage error={`The original cannot be shown: ${originalProblem}`} />}
          {original && (
            <>
              <ImagePanel index={1} label="Original" original={original} opacity={opacity} transform={transform} onTransform={onTransform} panelRef={(el) => (panels.current[0] = el)} />
              {METHODS.map((m, i) => {
                const x = byMethod.get(m.id);
                const busy = running && !x;
                return (
                  <ImagePanel
                    key={m.id}
                    index={i + 2}
                    label={m.label}
                    original={original}
                    overlay={x?.overlay ?? null}
                    opacity={opacity}
                    transform={transform}
                    onTransform={onTransform}
                    panelRef={(el) => (panels.current[i + 1] = el)}
                    status={
                      x ? (
                        <span className="muted">target {String(x.parameters.target ?? '')}</span>
                      ) : busy ? (
                        <span className="muted">computing…</span>
                      ) : (
                        <span className="muted">not computed</span>
                      )
                    }
                  />
                );
              })}
            </>
          )}
          <div className="legend" aria-label="Colour legend">
            <div>
              <span className="colorbar" aria-hidden="true" /> CAMs: blue = little influence, red = the regions that most raised the score of the explained class
            </div>
            <div>
              LIME: <span className="swatch for" aria-hidden="true" /> green regions speak <strong>for</strong> the explained class, <span className="swatch against" aria-hidden="true" /> red
              regions <strong>against</strong> it (yellow outlines)
            </div>
          </div>
        </div>
        <aside className="viewer-side">
          <section aria-label="Verdict" data-testid="verdict-facts">
            <h4>Verdict</h4>
            {analysis ? (
              <dl className="facts">
                <dt>Verdict</dt>
                <dd>
                  <VerdictBadge verdict={analysis.verdict} />
                </dd>
                <dt>p(synthetic)</dt>
                <dd>{analysis.pSynthetic.toFixed(4)}</dd>
                <dt>Threshold</dt>
                <dd title={String(analysis.threshold)}>
                  {analysis.threshold.toFixed(4)} <span className="muted">(synthetic when p ≥ threshold)</span>
                </dd>
                <dt>Model</dt>
                <dd>{analysis.model.id}</dd>
                <dt>Model sha256</dt>
                <dd>
                  <code className="hash">{analysis.model.sha256}</code>
                </dd>
                <dt>Provider</dt>
                <dd>{analysis.provider}</dd>
                <dt>When</dt>
                <dd>
                  {new Date(analysis.createdAt).toLocaleString()} by {analysis.createdBy}
                </dd>
              </dl>
            ) : props.item.failed ? (
              <p className="message-error">Analysis failed: {props.item.failed}</p>
            ) : (
              <p className="muted">Not analysed yet.</p>
            )}
          </section>
          <section aria-label="Explanations">
            <h4>Explanations</h4>
            <div className="toolbar">
              <button onClick={() => explain()} disabled={running || !analysis}>
                Explain with all five methods
              </button>
              {running && (
                <button onClick={() => client.call('jobs.cancel', { jobId: job.id })} aria-label="Cancel explanations">
                  Cancel
                </button>
              )}
            </div>
            {!analysis && <p className="muted">Analyse this item first.</p>}
            {running && <ProgressBar label="Explaining" done={job.progress.done} total={job.progress.total} />}
            {job && !running && (
              <p data-testid="explain-status" className="muted">
                {job.status === 'done'
                  ? `done: ${jobResult?.explanations.filter((e) => !e.reused).length ?? 0} computed, ${jobResult?.explanations.filter((e) => e.reused).length ?? 0} reused from the record`
                  : job.status === 'cancelled'
                    ? 'cancelled; finished methods are kept'
                    : `failed: ${job.error?.message ?? ''}`}
              </p>
            )}
            <label>
              Target class{' '}
              <select value={target} onChange={(e) => setTarget(e.target.value as typeof target)} aria-label="Target class">
                <option value="">the decided class</option>
                <option value="synthetic">synthetic</option>
                <option value="real">real</option>
              </select>
            </label>
            <details className="method-params">
              <summary>Per-method parameters</summary>
              {METHODS.map((m) => (
                <fieldset key={m.id} aria-label={`${m.label} parameters`}>
                  <legend>{m.label}</legend>
                  {(m.id === 'gradcam' || m.id === 'layercam') && (
                    <label>
                      Layer{' '}
                      <select value={params[m.id]?.layer ?? ''} onChange={(e) => setParam(m.id, 'layer', e.target.value)} aria-label={`${m.label} layer`}>
                        <option value="">default</option>
                        {layers.map((l) => (
                          <option key={l} value={l}>
                            {l}
                          </option>
                        ))}
                      </select>
                    </label>
                  )}
                  {m.id === 'scorecam' && (
                    <label>
                      k (channels){' '}
                      <input type="number" min={1} max={2048} value={params.scorecam?.topK ?? ''} placeholder="32" onChange={(e) => setParam('scorecam', 'topK', e.target.value)} aria-label="ScoreCAM k" />
                    </label>
                  )}
                  {m.id === 'lime' && (
                    <>
                      <label>
                        Samples <input type="number" min={10} max={20000} value={params.lime?.samples ?? ''} placeholder="default" onChange={(e) => setParam('lime', 'samples', e.target.value)} aria-label="LIME samples" />
                      </label>
                      <label>
                        Superpixels <input type="number" min={4} max={500} value={params.lime?.segments ?? ''} placeholder="default" onChange={(e) => setParam('lime', 'segments', e.target.value)} aria-label="LIME superpixels" />
                      </label>
                    </>
                  )}
                  <button onClick={() => explain([m.id])} disabled={running || !analysis}>
                    Recompute {m.label}
                  </button>
                  {byMethod.get(m.id) && (
                    <p className="muted small">
                      on record: {Object.entries(byMethod.get(m.id)!.parameters)
                        .filter(([k]) => !['requestKey', 'layersOffered', 'peak'].includes(k))
                        .map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
                        .join(', ')}
                    </p>
                  )}
                  {byMethod.get(m.id)?.overlayProblem && <ErrorMessage error={byMethod.get(m.id)!.overlayProblem} />}
                </fieldset>
              ))}
            </details>
          </section>
          <section aria-label="Image facts" data-testid="image-facts">
            <h4>Image</h4>
            <dl className="facts">
              <dt>Type</dt>
              <dd>{evidence.mimeType}</dd>
              <dt>Dimensions</dt>
              <dd>{evidence.width ? `${evidence.width} × ${evidence.height}` : 'unknown'}</dd>
              <dt>Size</dt>
              <dd>{evidence.sizeBytes.toLocaleString()} bytes</dd>
              <dt>sha256</dt>
              <dd>
                <code className="hash">{evidence.sha256}</code>
              </dd>
              <dt>Origin</dt>
              <dd>{evidence.originalPath}</dd>
              <dt>Ingested</dt>
              <dd>
                {new Date(evidence.ingestedAt).toLocaleString()} by {evidence.ingestedBy}
              </dd>
              {evidence.unreadableReason && (
                <>
                  <dt>Readable</dt>
                  <dd className="message-error">no: {evidence.unreadableReason}</dd>
                </>
              )}
            </dl>
          </section>
          {/* Slot for the provenance panel (metadata and findings), mounted by the shell when it exists. */}
          <section aria-label="Provenance" data-testid="provenance-slot">
            {props.provenancePanel}
          </section>
          <section aria-label="Notes">
            <h4>Notes</h4>
            <ul className="notes" data-testid="notes">
              {notes.state === 'ready' &&
                notes.value.map((n) => (
                  <li key={n.id}>
                    <pre>{n.body}</pre>
                    <span className="muted small">
                      {n.author} · {new Date(n.createdAt).toLocaleString()}
                    </span>
                  </li>
                ))}
            </ul>
            <textarea rows={3} value={note} onChange={(e) => setNote(e.target.value)} aria-label="New note" placeholder="Observations (saved with your name, audited)" />
            <button onClick={saveNote} disabled={!note.trim() || !!props.openCase.closedAt}>
              Save note
            </button>
          </section>
          <section aria-label="Tags">
            <h4>Tags</h4>
            <div className="tags">
              {props.item.tags.map((t) => (
                <span key={t} className="badge">
                  {t}{' '}
                  <button className="link" onClick={() => changeTag(false, t)} aria-label={`Remove tag ${t}`}>
                    ×
                  </button>
                </span>
              ))}
            </div>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                void changeTag(true, tag);
              }}
            >
              <input value={tag} onChange={(e) => setTag(e.target.value)} aria-label="New tag" placeholder="tag" />
              <button type="submit" disabled={!tag.trim()}>
                Add tag
              </button>
            </form>
          </section>
          <section aria-label="History">
            <h4>History</h4>
            <ol className="history" data-testid="history">
              {history.state === 'ready' &&
                history.value.map((h) => (
                  <li key={h.index}>
                    <span className="muted small">{new Date(h.at).toLocaleString()}</span> <strong>{h.actor}</strong> {describeAction(h.action, h.details)}
                  </li>
                ))}
            </ol>
          </section>
          <ErrorMessage error={error} />
        </aside>
      </div>
    </div>
  );
}
