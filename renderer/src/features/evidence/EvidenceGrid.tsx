import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { AnalysisInfo, EvidenceInfo } from '../../../../electron/shared/api-contract';
import { getApiClient } from '../../api/api-client';
import { VerdictBadge } from '../../components/VerdictBadge';

export interface GridItem {
  evidence: EvidenceInfo;
  analysis: AnalysisInfo | undefined;
  failed: string | undefined;
  tags: string[];
}

const TILE_WIDTH = 184;
const TILE_HEIGHT = 244;

// Thumbnails come from the services once per item and stay for the session.
const thumbnails = new Map<string, Promise<{ url: string | null; problem?: string }>>();
function thumbnail(evidenceId: string) {
  let p = thumbnails.get(evidenceId);
  if (!p) {
    p = getApiClient()
      .call('evidence.thumbnail', { evidenceId })
      .then(
        (t) => (t.dataUrl !== null ? { url: t.dataUrl } : { url: null, problem: t.problem }),
        (e: Error) => ({ url: null, problem: e.message }),
      );
    thumbnails.set(evidenceId, p);
  }
  return p;
}

function Thumbnail({ evidence }: { evidence: EvidenceInfo }) {
  const [t, setT] = useState<{ url: string | null; problem?: string } | null>(null);
  useEffect(() => {
    let live = true;
    void thumbnail(evidence.id).then((v) => live && setT(v));
    return () => {
      live = false;
    };
  }, [evidence.id]);
  if (!t) return <div className="thumb placeholder" aria-hidden="true" />;
  if (!t.url)
    return (
      <div className="thumb unreadable" title={t.problem}>
        cannot be shown
      </div>
    );
  return <img className="thumb" src={t.url} alt={`Thumbnail of ${evidence.originalName}`} />;
}

/** A virtualised grid: only the rows in view exist in the DOM, so 10,000 items scroll as smoothly as 10. */
export function EvidenceGrid(props: {
  items: GridItem[];
  selected: ReadonlySet<string>;
  onToggle(id: string, range: boolean): void;
  onOpen(id: string): void;
  onDropFiles(files: File[]): void;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [columns, setColumns] = useState(4);
  const [focus, setFocus] = useState(0);
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setColumns(Math.max(1, Math.floor((el.clientWidth - 8) / TILE_WIDTH))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const rows = Math.ceil(props.items.length / columns);
  const virtualizer = useVirtualizer({ count: rows, getScrollElement: () => scroller.current, estimateSize: () => TILE_HEIGHT, overscan: 3 });

  const move = (to: number) => {
    const next = Math.max(0, Math.min(props.items.length - 1, to));
    setFocus(next);
    virtualizer.scrollToIndex(Math.floor(next / columns));
    requestAnimationFrame(() => scroller.current?.querySelector<HTMLElement>(`[data-index-item="${next}"]`)?.focus());
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const item = props.items[focus];
    if (e.key === 'ArrowRight') move(focus + 1);
    else if (e.key === 'ArrowLeft') move(focus - 1);
    else if (e.key === 'ArrowDown') move(focus + columns);
    else if (e.key === 'ArrowUp') move(focus - columns);
    else if (e.key === 'Enter' && item) props.onOpen(item.evidence.id);
    else if (e.key === ' ' && item) props.onToggle(item.evidence.id, e.shiftKey);
    else return;
    e.preventDefault();
  };

  return (
    <div
      ref={scroller}
      className={`evidence-grid ${dragging ? 'dragging' : ''}`}
      data-testid="evidence-grid"
      role="grid"
      aria-label="Evidence items"
      aria-rowcount={rows}
      onKeyDown={onKey}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        if (e.dataTransfer.files.length) props.onDropFiles([...e.dataTransfer.files]);
      }}
    >
      {props.items.length === 0 && <p className="empty">No evidence yet. Choose files above or drop them here.</p>}
      <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
        {virtualizer.getVirtualItems().map((row) => (
          <div key={row.key} role="row" aria-rowindex={row.index + 1} className="grid-row" style={{ position: 'absolute', top: 0, transform: `translateY(${row.start}px)`, height: TILE_HEIGHT }}>
            {props.items.slice(row.index * columns, row.index * columns + columns).map((item, i) => {
              const index = row.index * columns + i;
              const { evidence, analysis } = item;
              const selected = props.selected.has(evidence.id);
              return (
                <div
                  key={evidence.id}
                  role="gridcell"
                  tabIndex={index === focus ? 0 : -1}
                  data-index-item={index}
                  data-testid="evidence-tile"
                  aria-selected={selected}
                  aria-label={`${evidence.originalName}, ${analysis ? analysis.verdict : item.failed ? 'analysis failed' : 'not analysed'}`}
                  className={`tile ${selected ? 'selected' : ''}`}
                  style={{ width: TILE_WIDTH - 12 }}
                  onFocus={() => setFocus(index)}
                  onDoubleClick={() => props.onOpen(evidence.id)}
                >
                  <button className="tile-open" onClick={() => props.onOpen(evidence.id)} aria-label={`Open ${evidence.originalName}`} tabIndex={-1}>
                    <Thumbnail evidence={evidence} />
                  </button>
                  <div className="tile-name" title={evidence.originalName}>
                    <input type="checkbox" checked={selected} onChange={(e) => props.onToggle(evidence.id, (e.nativeEvent as MouseEvent).shiftKey)} aria-label={`Select ${evidence.originalName}`} tabIndex={-1} />
                    {evidence.originalName}
                  </div>
                  <div className="tile-verdict">
                    <VerdictBadge verdict={analysis?.verdict} failed={!analysis && !!item.failed} />
                    <span className="p" title="p(synthetic): the detector's probability that the image is generated">
                      {analysis ? `p ${analysis.pSynthetic.toFixed(3)}` : ''}
                    </span>
                  </div>
                  {evidence.unreadableReason && (
                    <div className="tile-warning" title={evidence.unreadableReason}>
                      unreadable
                    </div>
                  )}
                  {item.tags.length > 0 && <div className="tile-tags">{item.tags.join(', ')}</div>}
                </div>
              );
            })}
          </div>
        ))}
      </div>
    </div>
  );
}
