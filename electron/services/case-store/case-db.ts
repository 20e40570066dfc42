// The only place a SQLite connection is opened. Query functions take a ReadableDB or a WritableDB, so
// handing a read-only connection to a function that writes is a compile error (as in Signal Desktop).
import Database from 'better-sqlite3';

declare const readableBrand: unique symbol;
declare const writableBrand: unique symbol;

export type ReadableDB = Database.Database & { readonly [readableBrand]: true };
export type WritableDB = ReadableDB & { readonly [writableBrand]: true };

// A blocked writer waits this long for another process (a worker, the CLI) before SQLITE_BUSY surfaces.
const BUSY_TIMEOUT_MS = 10_000;

export function openWritableDatabase(file: string): WritableDB {
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // FULL: a committed evidence row survives power loss, not just a killed process.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (e) {
    db.close();
    throw e;
  }
  return db as WritableDB;
}

/** A second connection that SQLite itself refuses to write through. */
export function openReadableDatabase(file: string): ReadableDB {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return db as ReadableDB;
}

/** A scratch database in memory (verify builds the schema the migrations create in one). */
export function openMemoryDatabase(): WritableDB {
  return new Database(':memory:') as WritableDB;
}

export function getSchemaVersion(db: ReadableDB): number {
  return db.pragma('user_version', { simple: true }) as number;
}
