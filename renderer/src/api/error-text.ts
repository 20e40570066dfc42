// Errors as sentences an examiner understands; the code and the raw text stay available as detail.
import { ApiCallError } from '../../../electron/shared/api-contract';

export interface ReadableError {
  sentence: string;
  detail?: string;
}

const FIELD_NAMES: Record<string, string> = {
  caseNumber: 'The case number',
  title: 'The title',
  examiner: 'The examiner',
  agency: 'The agency',
  description: 'The description',
  caseId: 'The case',
  evidenceId: 'The evidence item',
  body: 'The note',
  tag: 'The tag',
  paths: 'The list of paths',
};

/** "caseNumber: String must contain at least 1 character(s)" → "The case number is required." */
function validatorProblem(problem: string): string {
  const m = /^([A-Za-z0-9_.]+): (.*)$/.exec(problem);
  if (!m) return problem;
  const field = FIELD_NAMES[m[1].split('.')[0]] ?? `The field "${m[1]}"`;
  const what = m[2];
  if (/at least 1 character|Required/i.test(what)) return `${field} is required.`;
  const max = /at most (\d+) character/.exec(what);
  if (max) return `${field} is too long (at most ${max[1]} characters).`;
  if (/Expected .*received/i.test(what)) return `${field} has the wrong kind of value.`;
  return `${field}: ${what}.`;
}

export function readableError(e: unknown): ReadableError {
  // Under Electron the error crossed the context bridge and lost its class, not its code.
  const bridged = e as { code?: unknown; message?: unknown; details?: unknown } | null;
  if (!(e instanceof ApiCallError) && bridged && typeof bridged.code === 'string' && typeof bridged.message === 'string') {
    return readableError(new ApiCallError(bridged.code, bridged.message, bridged.details));
  }
  if (e instanceof ApiCallError) {
    const detail = `${e.code}: ${e.message}${e.details !== undefined ? `\n${JSON.stringify(e.details, null, 2)}` : ''}`;
    if (e.code === 'INVALID_REQUEST' && Array.isArray(e.details)) {
      return { sentence: (e.details as string[]).map(validatorProblem).join(' '), detail };
    }
    if (e.code === 'UNAUTHORIZED') {
      return { sentence: 'Missing or wrong API token. Open the launch link that `npm run serve` printed (it ends in #token=…).', detail };
    }
    return { sentence: e.message, detail };
  }
  const err = e as Error;
  if (err?.message === 'Failed to fetch' || err?.name === 'TypeError') {
    return { sentence: 'The forensic services cannot be reached. Is the server still running?', detail: err.message };
  }
  return { sentence: err?.message ?? String(e) };
}
