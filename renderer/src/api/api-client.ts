// The renderer's one way to reach the services. Under Electron the preload exposes a typed client;
// in a browser the same contract travels over HTTP with the per-launch token. Callers cannot tell.
import {
  ApiCallError,
  type ApiEvent,
  type ApiMethod,
  type ApiRequest,
  type ApiResponse,
  type ApiResult,
  type ForensicApiClient,
  type UploadedFile,
} from '../../../electron/shared/api-contract';

declare global {
  interface Window {
    forensicApi?: ForensicApiClient;
  }
}

const TOKEN_KEY = 'forensic-api-token';

/**
 * Reads the token from the launch URL's fragment, then keeps it for reloads of this tab. Called again
 * on every hashchange: opening the launch URL in a tab that already shows the app changes only the
 * fragment, and the new token must replace the old one.
 */
const tokenListeners = new Set<() => void>();

/** Called when a new token arrived by the fragment (the launch URL opened again in this tab). */
export function onTokenChange(listener: () => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

function takeToken(): string | null {
  const match = /(?:^|[#&])token=([A-Za-z0-9_-]+)/.exec(window.location.hash);
  if (match) {
    const changed = sessionStorage.getItem(TOKEN_KEY) !== match[1];
    sessionStorage.setItem(TOKEN_KEY, match[1]);
    if (changed) queueMicrotask(() => tokenListeners.forEach((l) => l()));
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const unreachable = (e: unknown) =>
  new ApiCallError('SERVER_UNREACHABLE', 'The forensic services cannot be reached. Is `npm run serve` still running?', { cause: (e as Error)?.message });

async function readResult<T>(res: Response): Promise<T> {
  let result: ApiResult<T>;
  try {
    result = (await res.json()) as ApiResult<T>;
  } catch {
    throw new ApiCallError('BAD_RESPONSE', `The server answered ${res.status} ${res.statusText} without a readable body.`);
  }
  if (!result.ok) throw new ApiCallError(result.error.code, result.error.message, result.error.details);
  return result.value;
}

export function createHttpClient(readToken: () => string | null): ForensicApiClient {
  const listeners = new Set<(event: ApiEvent) => void>();
  let source: EventSource | null = null;
  let sourceToken: string | null = null;
  const connect = () => {
    const token = readToken();
    if (source && sourceToken === token) return;
    source?.close();
    sourceToken = token;
    source = new EventSource(`/api/events?token=${encodeURIComponent(token ?? '')}`);
    source.onmessage = (m) => {
      const event = JSON.parse(m.data) as ApiEvent;
      listeners.forEach((l) => l(event));
    };
  };
  window.addEventListener('hashchange', () => {
    readToken();
    if (listeners.size) connect();
  });
  return {
    transport: 'http',
    async call<M extends ApiMethod>(method: M, request: ApiRequest<M>): Promise<ApiResponse<M>> {
      let res: Response;
      try {
        res = await fetch(`/api/call/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${readToken() ?? ''}` },
          body: JSON.stringify(request),
        });
      } catch (e) {
        throw unreachable(e);
      }
      return readResult<ApiResponse<M>>(res);
    },
    async upload(file: Blob, name: string, signal?: AbortSignal): Promise<UploadedFile> {
      let res: Response;
      try {
        res = await fetch(`/api/upload?name=${encodeURIComponent(name)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${readToken() ?? ''}` },
          body: file,
          signal,
        });
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw new ApiCallError('CANCELLED', `The upload of ${name} was cancelled.`);
        throw unreachable(e);
      }
      return readResult<UploadedFile>(res);
    },
    onEvent(listener: (event: ApiEvent) => void) {
      listeners.add(listener);
      connect();
      return () => {
        listeners.delete(listener);
        if (!listeners.size) {
          source?.close();
          source = null;
          sourceToken = null;
        }
      };
    },
  };
}

let client: ForensicApiClient | undefined;

export function getApiClient(): ForensicApiClient {
  if (!client) {
    if (window.forensicApi) client = window.forensicApi;
    else {
      takeToken();
      client = createHttpClient(takeToken);
    }
  }
  return client;
}
