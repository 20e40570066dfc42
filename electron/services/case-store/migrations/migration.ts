import type { WritableDB } from '../case-db';

export interface Migration {
  /** The schema version this migration produces; migration N runs on a database at version N-1. */
  version: number;
  name: string;
  up(db: WritableDB): void;
}
