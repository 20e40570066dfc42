import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { CaseInfo } from '../../../../electron/shared/api-contract';
import { getApiClient } from '../../api/api-client';
import { readableError } from '../../api/error-text';
import { useJob } from '../../api/use-job';
import { ErrorMessage } from '../../components/ErrorMessage';
import { ProgressBar } from '../../components/ProgressBar';

interface ImportJobResult {
  added: number;
  failed: Array<{ path: string; code: string; message: string }>;
  cancelled: boolean;
  addedItems?: Array<{ evidenceId: string; name: string; unreadableReason: string | null }>;
  duplicateItems?: Array<{ path: string; evidenceId: string; existingName: string | null }>;
}

export interface ImportMessage {
  kind: 'error' | 'warning' | 'info';
  text: string;
}

const shownName = (p: string) => p.replace(/^\(uploaded\) /, '');

/** Every file that was not simply added gets its own sentence. */
export function importMessages(result: ImportJobResult, uploadErrors: ImportMessage[]): ImportMessage[] {
  const out: ImportMessage[] = [...uploadErrors];
  for (const f of result.failed) out.push({ kind: 'error', text: f.code === 'EMPTY_FILE' ? `${shownName(f.path)} is empty (0 bytes); it was not added.` : f.message.replace(/^\(uploaded\) /, '') });
  for (const d of result.duplicateItems ?? []) {
    out.push({ kind: 'warning', text: `${shownName(d.path)} is a duplicate of ${d.existingName ?? 'an item'} already in this case; it was not added again.` });
  }
  for (const a of result.addedItems ?? []) {
    if (a.unreadableReason) out.push({ kind: 'warning', text: `${a.name} was kept as evidence but its pixels cannot be decoded (${a.unreadableReason}); it cannot be analysed.` });
  }
  if (result.cancelled) out.push({ kind: 'info', text: 'The import was cancelled; files already added stay in the case.' });
  return out;
}

/**
 * Import by the browser's file picker or drag and drop (bytes uploaded to the local server), by the
 * desktop app's native dialog, or by typing full paths on this computer. All end in one import job.
 */
export function ImportPanel(props: { openCase: CaseInfo; droppedFiles: File[] | null; onDropHandled(): void; onImported(): void }) {
  const client = getApiClient();
  const [phase, setPhase] = useState<'idle' | 'uploading' | 'importing'>('idle');
  const [uploaded, setUploaded] = useState({ done: 0, total: 0 });
  const [uploadErrors, setUploadErrors] = useState<ImportMessage[]>([]);
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [paths, setPaths] = useState('');
  const abort = useRef<AbortController | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const job = useJob(jobId);
  const closed = !!props.openCase.closedAt;

  useEffect(() => {
    if (job && job.status !== 'running' && phase === 'importing') {
      setPhase('idle');
      props.onImported();
    }
  }, [job?.status]);

  useEffect(() => {
    if (props.droppedFiles?.length) void uploadFiles(props.droppedFiles);
    props.onDropHandled();
  }, [props.droppedFiles]);

  async function startImport(request: { paths?: string[]; uploadIds?: string[] }) {
    setPhase('importing');
    setJobId((await client.call('jobs.start', { kind: 'evidence.import', caseId: props.openCase.id, ...request })).jobId);
  }

  async function uploadFiles(files: File[]) {
    if (!client.upload) {
      setError('This transport imports by path: use "Import with the system dialog…".');
      return;
    }
    setError(null);
    setJobId(null);
    setUploadErrors([]);
    const controller = new AbortController();
    abort.current = controller;
    setPhase('uploading');
    setUploaded({ done: 0, total: files.length });
    const ids: string[] = [];
    const errors: ImportMessage[] = [];
    for (const [i, file] of files.entries()) {
      if (controller.signal.aborted) break;
      try {
        ids.push((await client.upload(file, file.name, controller.signal)).uploadId);
      } catch (e) {
        if (controller.signal.aborted) break;
        errors.push({ kind: 'error', text: `${file.name}: ${readableError(e).sentence}` });
      }
      setUploaded({ done: i + 1, total: files.length });
    }
    if (controller.signal.aborted) errors.push({ kind: 'info', text: 'The upload was cancelled; nothing was imported.' });
    setUploadErrors(errors);
    if (fileInput.current) fileInput.current.value = '';
    try {
      if (ids.length && !controller.signal.aborted) await startImport({ uploadIds: ids });
      else setPhase('idle');
    } catch (e) {
      setPhase('idle');
      setError(e);
    }
  }

  async function importPaths(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const list = paths
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean);
    if (!list.length) return;
    setError(null);
    setUploadErrors([]);
    try {
      await startImport({ paths: list });
      // Cleared once accepted, so a second click cannot re-submit the same files.
      setPaths('');
    } catch (err) {
      setPhase('idle');
      setError(err);
    }
  }

  async function nativeDialog() {
    setError(null);
    try {
      const { paths: chosen } = await client.call('dialog.openEvidence', {});
      if (chosen.length) await startImport({ paths: chosen });
    } catch (err) {
      setPhase('idle');
      setError(err);
    }
  }

  async function cancel() {
    abort.current?.abort();
    if (job?.status === 'running') await client.call('jobs.cancel', { jobId: job.id });
  }

  const result = job && job.status !== 'running' ? (job.result as ImportJobResult | undefined) : undefined;
  const messages = result ? importMessages(result, uploadErrors) : phase === 'idle' ? uploadErrors : [];
  const busy = phase !== 'idle';
  return (
    <section className="import" aria-label="Import evidence">
      <div className="toolbar">
        <label className={`button ${closed || busy ? 'disabled' : ''}`}>
          Choose files…
          <input
            ref={fileInput}
            type="file"
            multiple
            accept="image/*,.heic,.heif,.avif,.tif,.tiff"
            aria-label="Choose evidence files"
            disabled={closed || busy}
            onChange={(e) => e.target.files && void uploadFiles([...e.target.files])}
            className="visually-hidden"
          />
        </label>
        {client.transport === 'electron' && (
          <button onClick={nativeDialog} disabled={closed || busy}>
            Import with the system dialog…
          </button>
        )}
        <form className="paths" onSubmit={importPaths}>
          <textarea
            name="paths"
            rows={1}
            value={paths}
            onChange={(e) => setPaths(e.target.value)}
            placeholder="…or full paths on this computer, one per line"
            aria-label="Paths to ingest"
            disabled={closed}
          />
          <button type="submit" disabled={closed || busy || !paths.trim()}>
            Ingest
          </button>
        </form>
        {busy && (
          <button onClick={cancel} aria-label="Cancel import">
            Cancel
          </button>
        )}
        <span className="muted">or drop files on the grid</span>
      </div>
      {closed && <p className="muted">This case is closed; reopen it on the Cases screen to import.</p>}
      {phase === 'uploading' && <ProgressBar label="Uploading" done={uploaded.done} total={uploaded.total} testId="upload-progress" />}
      {job?.status === 'running' && <ProgressBar label="Importing" done={job.progress.done} total={job.progress.total} testId="import-progress" />}
      {job && job.status !== 'running' && (
        <p data-testid="job-status" className="muted">
          {job.status === 'done'
            ? `Import finished: ${result?.added ?? 0} file${result?.added === 1 ? '' : 's'} added${messages.filter((m) => m.kind !== 'info').length ? `, ${messages.filter((m) => m.kind !== 'info').length} to look at below` : ''}.`
            : job.status === 'cancelled'
              ? 'Import cancelled.'
              : `Import failed: ${job.error?.message ?? 'unknown error'}`}
        </p>
      )}
      <ErrorMessage error={error} />
      {messages.length > 0 && (
        <ul className="messages" data-testid="import-messages" aria-label="Import messages">
          {messages.map((m, i) => (
            <li key={i} className={`message-${m.kind}`}>
              {m.text}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
