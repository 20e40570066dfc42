import { useEffect, useState } from 'react';
import type { ApiMethod, ApiRequest, ApiResponse } from '../../../electron/shared/api-contract';
import { getApiClient } from './api-client';
import { readableError } from './error-text';

export type Loadable<T> = { state: 'loading' } | { state: 'ready'; value: T } | { state: 'error'; message: string; error: unknown };

/**
 * Calls one API method when the component mounts (and when `deps` change). A null request means
 * "nothing to ask yet" (no case open): no call is made, rather than one the server must refuse.
 */
// `deps` decides when to call again; the request object itself is usually a fresh literal each render.
export function useApiCall<M extends ApiMethod>(method: M, request: ApiRequest<M> | null, deps: unknown[] = []) {
  const [result, setResult] = useState<Loadable<ApiResponse<M>>>({ state: 'loading' });
  useEffect(() => {
    if (request === null) return;
    let live = true;
    getApiClient()
      .call(method, request)
      .then(
        (value) => live && setResult({ state: 'ready', value }),
        (e: Error) => live && setResult({ state: 'error', message: readableError(e).sentence, error: e }),
      );
    return () => {
      live = false;
    };
  }, deps);
  return result;
}
