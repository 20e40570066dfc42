export type ExplainErrorCode =
  | 'EXPLAIN_BAD_INPUT'
  | 'EXPLAIN_BAD_PARAMS'
  | 'EXPLAIN_UNKNOWN_METHOD'
  | 'EXPLAIN_LAYER_UNAVAILABLE'
  | 'EXPLAIN_UNSUPPORTED_LAYER'
  | 'EXPLAIN_MODEL_MISMATCH'
  | 'EXPLAIN_NO_HEAD_WEIGHTS'
  | 'EXPLAIN_NOT_FINITE';

/** Every refusal of the explainers carries a code the CLI and the renderer can switch on. */
export class ExplainError extends Error {
  readonly code: ExplainErrorCode;
  constructor(code: ExplainErrorCode, message: string) {
    super(message);
    this.name = 'ExplainError';
    this.code = code;
  }
}
