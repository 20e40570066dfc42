// Typed failures of the dataset builder, so the CLI and the API report a code and a clear message.
export type DatasetErrorCode =
  | 'BAD_OPTIONS'
  | 'SOURCES_NOT_FOUND'
  | 'MANIFEST_INVALID'
  | 'IMAGE_FAILED'
  | 'OUTPUT_FAILED'
  | 'DATASET_INVALID'
  | 'CANCELLED'
  // Labelled folders (the model lab):
  | 'FOLDER_NOT_FOUND'
  | 'NOT_A_FOLDER'
  | 'EMPTY_FOLDER'
  | 'NO_READABLE_IMAGES'
  | 'MISSING_CLASS'
  | 'OVERLAPPING_FOLDERS'
  | 'CONFLICTING_LABELS'
  | 'TOO_FEW_IMAGES'
  | 'DATASET_NOT_EVALUABLE';

export class DatasetBuildError extends Error {
  constructor(
    readonly code: DatasetErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DatasetBuildError';
  }
}
