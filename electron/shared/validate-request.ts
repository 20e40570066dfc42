import { apiContract, isApiMethod, type ApiErrorPayload, type ApiMethod, type ApiRequest } from './api-contract';

/** Validates an untrusted (method, payload) pair at a transport boundary. */
export function validateApiRequest(
  method: string,
  payload: unknown,
): { ok: true; method: ApiMethod; request: ApiRequest<ApiMethod> } | { ok: false; error: ApiErrorPayload } {
  if (!isApiMethod(method)) {
    return { ok: false, error: { code: 'UNKNOWN_METHOD', message: `Unknown API method "${method}".` } };
  }
  const parsed = apiContract[method].request.safeParse(payload ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`);
    return {
      ok: false,
      error: { code: 'INVALID_REQUEST', message: `Invalid request for ${method}: ${issues.join('; ')}`, details: issues },
    };
  }
  return { ok: true, method, request: parsed.data as ApiRequest<ApiMethod> };
}
