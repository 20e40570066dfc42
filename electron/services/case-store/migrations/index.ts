import type { ReadableDB, WritableDB } from '../case-db';
import { getSchemaVersion } from '../case-db';
import { CaseStoreError } from '../case-store-error';
import type { Migration } from './migration';
import { migration0001Initial } from './0001-initial';
import { migration0002EvidenceSourceModified } from './0002-evidence-source-modified';
import { migration0003Workspace } from './0003-workspace';
import { migration0004Reports } from './0004-reports';
import { migration0005Provenance } from './0005-provenance';

export type { Migration } from './migration';

export const MIGRATIONS: readonly Migration[] = [
  migration0001Initial,
  migration0002EvidenceSourceModified,
  migration0003Workspace,
  migration0004Reports,
  migration0005Provenance,
];
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/**
 * Brings the database to `toVersion` (default: latest), one transaction per migration, so a crash
 * leaves it at a whole version. A database from a newer app is refused rather than misread.
 */
export function migrateDatabase(db: WritableDB, toVersion = LATEST_SCHEMA_VERSION): number {
  const current = getSchemaVersion(db as ReadableDB);
  if (current > LATEST_SCHEMA_VERSION) {
    throw new CaseStoreError(
      'DATABASE_NEWER_THAN_APP',
      `The case database is at schema version ${current}; this app knows up to ${LATEST_SCHEMA_VERSION}. Update the app.`,
      { current, latest: LATEST_SCHEMA_VERSION },
    );
  }
  if (!Number.isInteger(toVersion) || toVersion < current || toVersion > LATEST_SCHEMA_VERSION) {
    throw new CaseStoreError('INVALID_ARGUMENT', `Cannot migrate from version ${current} to ${toVersion}.`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > toVersion) continue;
    try {
      db.transaction(() => {
        // Another process may have migrated while this one waited for the write lock.
        if (getSchemaVersion(db as ReadableDB) >= m.version) return;
        m.up(db);
        db.pragma(`user_version = ${m.version}`);
      }).immediate();
    } catch (e) {
      throw new CaseStoreError('MIGRATION_FAILED', `Migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, {
        version: m.version,
      });
    }
  }
  return getSchemaVersion(db as ReadableDB);
}
