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
} from '../../../electron/shared/api-contract';

declare global {
  interface Window {
    forensicApi?: ForensicApiClient;
  }
}

const TOKEN_KEY = 'forensic-api-token';

/** Reads the token from the launch URL's fragment once, then keeps it for reloads of this tab. */
function takeToken(): string | null {
  const match = /(?:^|[#&])token=([A-Za-z0-9_-]+)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, match[1]);
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function createHttpClient(token: string | null): ForensicApiClient {
  return {
    transport: 'http',
    async call<M extends ApiMethod>(method: M, request: ApiRequest<M>): Promise<ApiResponse<M>> {
      const res = await fetch(`/api/call/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token ?? ''}` },
        body: JSON.stringify(request),
      });
      const result = (await res.json()) as ApiResult<ApiResponse<M>>;
      if (!result.ok) throw new ApiCallError(result.error.code, result.error.message, result.error.details);
      return result.value;
    },
    onEvent(listener: (event: ApiEvent) => void) {
      const source = new EventSource(`/api/events?token=${encodeURIComponent(token ?? '')}`);
      source.onmessage = (m) => listener(JSON.parse(m.data) as ApiEvent);
      return () => source.close();
    },
  };
}

let client: ForensicApiClient | undefined;

export function getApiClient(): ForensicApiClient {
  client ??= window.forensicApi ?? createHttpClient(takeToken());
  return client;
}
