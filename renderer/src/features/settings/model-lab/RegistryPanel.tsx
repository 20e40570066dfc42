import { useState } from 'react';
import type { LabModelInfo } from '../../../../../electron/shared/api-contract';
import { getApiClient } from '../../../api/api-client';
import { cardField, fmt } from './format';
import { MetricsTable } from './EvaluationPanel';

type Pending = { kind: 'activate' | 'delete'; model: LabModelInfo } | null;

const floorsText = (f: Record<string, number>) =>
  `test ROC-AUC ≥ ${f.rocAuc}, recall ≥ ${f.recall}, FPR ≤ ${f.maxFpr}, at least ${f.minTestImagesPerClass} test images of each class`;

/** Step 4: every model version with its card; choose the active detector (explicit, audited), delete, export, import. */
export function RegistryPanel(props: { models: LabModelInfo[]; onChanged(): void; onEvaluate(id: string): void }) {
  const [pending, setPending] = useState<Pending>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [exportPath, setExportPath] = useState<Record<string, string>>({});
  const [importPath, setImportPath] = useState('');
  const [importId, setImportId] = useState('');
  const active = props.models.find((m) => m.active);
  const shipped = props.models.find((m) => m.source === 'shipped');

  async function act(fn: () => Promise<string>) {
    try {
      setMessage({ kind: 'ok', text: await fn() });
      props.onChanged();
    } catch (e) {
      setMessage({ kind: 'error', text: (e as Error).message });
    }
    setPending(null);
  }

  const activate = (m: LabModelInfo) =>
    act(async () => {
      const r = await getApiClient().call('models.activate', { id: m.id, ...(m.quality.weak ? { confirmWeak: true } : {}) });
      return `${r.active.id} is now the active detector (was ${r.previous?.id ?? 'none'}); recorded in the audit log.`;
    });

  return (
    <section aria-labelledby="lab-registry-title" className="lab-step">
      <h4 id="lab-registry-title">4 · Models and the active detector</h4>
      <p className="lab-hint">
        New analyses in every case use the active model; verdicts already recorded keep the model (id and sha256) that produced them. Each change is
        recorded in the global audit log.
      </p>
      <p data-testid="active-model">
        Active: <strong>{active?.id ?? 'none'}</strong>
        {active && active.source !== 'shipped' && shipped && (
          <>
            {' '}
            <button type="button" onClick={() => setPending({ kind: 'activate', model: shipped })}>
              Go back to the shipped default
            </button>
          </>
        )}
      </p>
      {pending && (
        <div role="alertdialog" aria-labelledby="lab-confirm-title" aria-describedby="lab-confirm-text" className={`lab-dialog${pending.model.quality.weak && pending.kind === 'activate' ? ' lab-warning' : ''}`}>
          <h5 id="lab-confirm-title">{pending.kind === 'activate' ? `Make ${pending.model.id} the active detector?` : `Delete ${pending.model.id}?`}</h5>
          <div id="lab-confirm-text">
            {pending.kind === 'activate' ? (
              <>
                {pending.model.quality.weak && (
                  <div data-testid="weak-warning">
                    <p>
                      <strong>Warning: this model fails its own evaluation.</strong>
                    </p>
                    <ul>
                      {pending.model.quality.reasons.map((r) => (
                        <li key={r}>{r}</li>
                      ))}
                    </ul>
                    <p>The floors are: {floorsText(pending.model.quality.floors)}. Its verdicts may be wrong more often than they are right.</p>
                  </div>
                )}
                <p>New analyses in every case will use it, at its threshold {fmt(pending.model.card.threshold)}. The change is audited.</p>
              </>
            ) : (
              <p>Its files are removed; its card stays in the case store for any verdict that cites it. The deletion is audited.</p>
            )}
          </div>
          <div className="lab-row">
            <button
              type="button"
              onClick={() =>
                void (pending.kind === 'activate'
                  ? activate(pending.model)
                  : act(async () => `Deleted ${(await getApiClient().call('models.delete', { id: pending.model.id })).deleted}.`))
              }
            >
              {pending.kind === 'delete' ? 'Delete' : pending.model.quality.weak ? 'Activate anyway' : 'Activate'}
            </button>
            <button type="button" onClick={() => setPending(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {message && (
        <p role={message.kind === 'error' ? 'alert' : 'status'} data-testid="registry-message">
          {message.text}
        </p>
      )}
      <table className="grid lab-models" data-testid="models">
        <thead>
          <tr>
            <th>model</th>
            <th>backbone</th>
            <th>created</th>
            <th>threshold</th>
            <th>test ROC-AUC</th>
            <th>recall</th>
            <th>FPR</th>
            <th>own evaluation</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {props.models.map((m) => (
            <ModelRow
              key={m.id}
              model={m}
              open={open === m.id}
              onToggle={() => setOpen(open === m.id ? null : m.id)}
              onActivate={() => setPending({ kind: 'activate', model: m })}
              onDelete={() => setPending({ kind: 'delete', model: m })}
              onEvaluate={() => props.onEvaluate(m.id)}
              exportPath={exportPath[m.id] ?? ''}
              setExportPath={(p) => setExportPath({ ...exportPath, [m.id]: p })}
              onExport={() =>
                void act(async () => {
                  const r = await getApiClient().call('models.export', { id: m.id, file: (exportPath[m.id] ?? '').trim() });
                  return `Exported ${m.id} to ${r.file} (${r.bytes} bytes, sha256 ${r.fileSha256}).`;
                })
              }
            />
          ))}
        </tbody>
      </table>
      <div className="lab-row">
        <input aria-label="Model file to import" className="lab-path" placeholder="/path/to/model.aifmodel.json" value={importPath} onChange={(e) => setImportPath(e.target.value)} />
        <input aria-label="Import as model id" placeholder="as id (optional, if the card's id is taken)" value={importId} onChange={(e) => setImportId(e.target.value)} />
        <button
          type="button"
          disabled={!importPath.trim()}
          onClick={() =>
            void act(async () => {
              const r = await getApiClient().call('models.import', { file: importPath.trim(), ...(importId.trim() ? { id: importId.trim() } : {}) });
              return `Imported ${r.id}; its detector matches the sha256 on its card (${r.sha256}). It is not active.`;
            })
          }
        >
          Import model file
        </button>
      </div>
    </section>
  );
}

function ModelRow(props: {
  model: LabModelInfo;
  open: boolean;
  onToggle(): void;
  onActivate(): void;
  onDelete(): void;
  onEvaluate(): void;
  exportPath: string;
  setExportPath(p: string): void;
  onExport(): void;
}) {
  const m = props.model;
  const card = m.card;
  const test = (cardField(card, 'metrics', 'test') ?? {}) as Record<string, unknown>;
  return (
    <>
      <tr data-model={m.id} className={m.active ? 'lab-active' : undefined}>
        <td>
          {m.active && <span className="lab-badge">● active</span>} <code className="lab-id">{m.id}</code>
          {m.source === 'shipped' ? ' (shipped default)' : ''}
          {m.problem && <div role="note">unusable: {m.problem.message}</div>}
        </td>
        <td>{String(cardField(card, 'backbone', 'name') ?? '')}</td>
        <td title={String(card.createdAt ?? '')}>
          {typeof card.createdAt === 'string' ? new Date(card.createdAt).toLocaleString() : '—'}
          {card.createdBy ? ` · ${String(card.createdBy)}` : ''}
        </td>
        <td>{fmt(card.threshold)}</td>
        <td>{fmt(test.rocAuc)}</td>
        <td>{fmt(test.recall)}</td>
        <td>{fmt(test.fpr)}</td>
        <td data-testid="model-quality">
          {m.quality.weak ? (
            <details className="lab-weak">
              <summary>
                weak ({m.quality.reasons.length} reason{m.quality.reasons.length === 1 ? '' : 's'})
              </summary>
              <ul>
                {m.quality.reasons.map((r) => (
                  <li key={r}>{r}</li>
                ))}
              </ul>
            </details>
          ) : (
            'passes the floors'
          )}
        </td>
        <td className="lab-actions">
          {!m.active && !m.problem && (
            <button type="button" onClick={props.onActivate}>
              Make active
            </button>
          )}
          <button type="button" onClick={props.onEvaluate} disabled={!!m.problem}>
            Evaluate
          </button>
          <button type="button" onClick={props.onToggle} aria-expanded={props.open}>
            Card
          </button>
          {!m.active && m.source === 'user' && (
            <button type="button" onClick={props.onDelete}>
              Delete
            </button>
          )}
        </td>
      </tr>
      {props.open && (
        <tr>
          <td colSpan={9}>
            <ModelCardView model={m} />
            <div className="lab-row">
              <input
                aria-label={`Export ${m.id} to file`}
                className="lab-path"
                placeholder="/path/to/export.aifmodel.json"
                value={props.exportPath}
                onChange={(e) => props.setExportPath(e.target.value)}
              />
              <button type="button" disabled={!props.exportPath.trim() || !!m.problem} onClick={props.onExport}>
                Export model file
              </button>
            </div>
          </td>
        </tr>
      )}
    </>
  );
}

/** How the card's detector reads a file (its `inference` block; absent = the paper's single resize). */
function describeScoring(c: LabModelInfo['card']): string {
  const size = String(cardField(c, 'backbone', 'inputSize') ?? '?');
  const crops = cardField(c, 'inference', 'inputMode') === 'crops';
  const base = crops ? '256 px crops at native resolution, logits averaged' : `the whole image resized to ${size} px (the paper)`;
  return cardField(c, 'inference', 'mirror') === true ? `${base}, each view averaged with its left-right mirror` : base;
}

function ModelCardView({ model }: { model: LabModelInfo }) {
  const c = model.card;
  const t = (cardField(c, 'training') ?? {}) as Record<string, unknown>;
  const sel = cardField(c, 'thresholdSelection') as Record<string, unknown> | undefined;
  const metrics = (cardField(c, 'metrics') ?? {}) as Record<string, unknown>;
  const rows = (['test', 'val'] as const).filter((k) => metrics[k] && typeof metrics[k] === 'object').map((k) => ({ name: k, metrics: metrics[k] as Record<string, unknown> }));
  const derived = cardField(c, 'derivedFrom') as { id?: string } | undefined;
  const imported = cardField(c, 'importedFrom') as { file?: string; by?: string } | undefined;
  return (
    <div data-testid="model-card" className="lab-card">
      <dl className="facts">
        <dt>Name</dt>
        <dd>{String(c.name ?? model.id)}</dd>
        <dt>Backbone</dt>
        <dd>
          {String(cardField(c, 'backbone', 'name'))}, {String(cardField(c, 'backbone', 'inputSize'))} px, features from{' '}
          {String(cardField(c, 'backbone', 'featureLayer') ?? 'the last layer')}
          {cardField(c, 'backbone', 'fineTunedBlocks') ? `, last ${String(cardField(c, 'backbone', 'fineTunedBlocks'))} blocks fine-tuned` : ', frozen'}
        </dd>
        <dt>Scoring</dt>
        <dd data-testid="model-scoring">{describeScoring(c)}</dd>
        <dt>Head</dt>
        <dd>{((cardField(c, 'head', 'layers') as string[] | undefined) ?? []).join(' → ') || `${String(cardField(c, 'head', 'hiddenUnits'))} hidden units`}</dd>
        <dt>Data</dt>
        <dd>{String(cardField(c, 'trainingData', 'summary') ?? '')}</dd>
        {Object.keys(t).length > 0 && (
          <>
            <dt>Training</dt>
            <dd>
              {String(t.optimizer ?? '')} lr {String(t.learningRate ?? '')}, batch {String(t.batchSize ?? '')}, {String(t.epochs ?? '')} epochs, seed{' '}
              {String(t.seed ?? '')}
              {t.bestEpoch !== undefined ? `, best epoch ${String(t.bestEpoch)}` : ''}
            </dd>
          </>
        )}
        <dt>Threshold</dt>
        <dd>
          {fmt(c.threshold)}
          {sel ? ` (chosen on ${String(sel.chosenOn ?? '?')} by ${String(sel.criterion ?? '?')}${sel.target !== undefined ? ` ${String(sel.target)}` : ''})` : ''}
        </dd>
        <dt>sha256</dt>
        <dd>
          <code>{String(c.sha256)}</code>
        </dd>
        <dt>Created</dt>
        <dd>
          {String(c.createdAt ?? '—')} by {String(c.createdBy ?? 'not recorded')}
        </dd>
        {derived && (
          <>
            <dt>Derived from</dt>
            <dd>{derived.id} (same detector, another threshold)</dd>
          </>
        )}
        {imported && (
          <>
            <dt>Imported</dt>
            <dd>
              from {imported.file} by {imported.by}
            </dd>
          </>
        )}
      </dl>
      {rows.length > 0 && <MetricsTable rows={rows} />}
    </div>
  );
}
