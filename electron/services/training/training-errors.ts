// Typed failures of training and evaluation, so callers (CLI, API, jobs) can report a code, not a stack.
export type TrainingErrorCode =
  | 'BAD_OPTIONS'
  | 'BAD_FEATURES'
  | 'EMPTY_SPLIT'
  | 'SINGLE_CLASS'
  | 'DIVERGED'
  | 'CANCELLED'
  | 'DATASET_NOT_FOUND'
  | 'BACKBONE_NOT_FOUND'
  | 'MODEL_NOT_FOUND'
  | 'UNSUPPORTED';

export class TrainingError extends Error {
  constructor(
    readonly code: TrainingErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TrainingError';
  }
}
