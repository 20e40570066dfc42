// Typed failures of the tfjs → ONNX conversion and detector fusion.
export type ConversionErrorCode =
  | 'BAD_MODEL_SOURCE'
  | 'MISSING_WEIGHT'
  | 'UNSUPPORTED_LAYER'
  | 'UNSUPPORTED_CONFIG'
  | 'UNKNOWN_OUTPUT'
  | 'BAD_SHAPE'
  | 'BAD_HEAD'
  | 'BAD_ONNX';

export class ConversionError extends Error {
  constructor(
    readonly code: ConversionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConversionError';
  }
}
