import { useEffect, useState } from 'react';
import type { ApiMethod, ApiRequest, ApiResponse } from '../../../electron/shared/api-contract';
import { getApiClient } from './api-client';

export type Loadable<T> = { state: 'loading' } | { state: 'ready'; value: T } | { state: 'error'; message: string };

/** Calls one API method when the component mounts (and when `deps` change). */
// `deps` decides when to call again; the request object itself is usually a fresh literal each render.
export function useApiCall<M extends ApiMethod>(method: M, request: ApiRequest<M>, deps: unknown[] = []) {
  const [result, setResult] = useState<Loadable<ApiResponse<M>>>({ state: 'loading' });
  useEffect(() => {
    let live = true;
    getApiClient()
      .call(method, request)
      .then(
        (value) => live && setResult({ state: 'ready', value }),
        (e: Error) => live && setResult({ state: 'error', message: e.message }),
      );
    return () => {
      live = false;
    };
  }, deps);
  return result;
}
