// The append-only audit log: each entry's hash is sha256(previous hash + canonical JSON of the entry),
// chained per case, so any edit, removal or truncation shows up when the chain is walked.
import crypto from 'node:crypto';
import type { ReadableDB, WritableDB } from './case-db';
import { canonicalJson } from './canonical-json';
import { GENESIS_HASH } from './migrations/0001-initial';

export { GENESIS_HASH };
export const GLOBAL_CHAIN = 'global';

export interface AuditEntry {
  seq: number;
  chain: string;
  index: number;
  at: string;
  actor: string;
  action: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** What the hash covers: everything but the row number, which is local to one database. */
export interface AuditEntryContent {
  chain: string;
  index: number;
  at: string;
  actor: string;
  action: string;
  details: Record<string, unknown>;
}

export function hashAuditEntry(prevHash: string, content: AuditEntryContent): string {
  return crypto
    .createHash('sha256')
    .update(prevHash + canonicalJson(content), 'utf8')
    .digest('hex');
}

interface AuditRow {
  seq: number;
  chain: string;
  chain_index: number;
  at: string;
  actor: string;
  action: string;
  details: string;
  prev_hash: string;
  hash: string;
}

function toEntry(row: AuditRow): AuditEntry {
  let details: Record<string, unknown>;
  try {
    details = JSON.parse(row.details) as Record<string, unknown>;
  } catch {
    details = { unparseable: row.details };
  }
  return {
    seq: row.seq,
    chain: row.chain,
    index: row.chain_index,
    at: row.at,
    actor: row.actor,
    action: row.action,
    details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function getChainHead(db: ReadableDB, chain: string): { index: number; hash: string } | undefined {
  const row = db.prepare('SELECT last_index, last_hash FROM audit_heads WHERE chain = ?').get(chain) as
    | { last_index: number; last_hash: string }
    | undefined;
  return row && { index: row.last_index, hash: row.last_hash };
}

/** Appends one entry; call inside the transaction that makes the change it records. */
export function appendAuditEntry(
  db: WritableDB,
  entry: { chain: string; actor: string; action: string; details: Record<string, unknown>; at?: string },
): AuditEntry {
  const head = getChainHead(db, entry.chain);
  const content: AuditEntryContent = {
    chain: entry.chain,
    index: head ? head.index + 1 : 0,
    at: entry.at ?? new Date().toISOString(),
    actor: entry.actor,
    action: entry.action,
    details: entry.details,
  };
  const prevHash = head ? head.hash : GENESIS_HASH;
  const hash = hashAuditEntry(prevHash, content);
  const info = db
    .prepare(
      `INSERT INTO audit_log (chain, chain_index, at, actor, action, details, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(content.chain, content.index, content.at, content.actor, content.action, canonicalJson(content.details), prevHash, hash);
  return { seq: Number(info.lastInsertRowid), ...content, prevHash, hash };
}

/** Re-inserts entries exactly as recorded elsewhere (an imported case); the chain triggers still apply. */
export function insertRecordedAuditEntry(db: WritableDB, e: Omit<AuditEntry, 'seq'>): void {
  db.prepare(
    `INSERT INTO audit_log (chain, chain_index, at, actor, action, details, prev_hash, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(e.chain, e.index, e.at, e.actor, e.action, canonicalJson(e.details), e.prevHash, e.hash);
}

export function listAuditEntries(db: ReadableDB, chain: string): AuditEntry[] {
  const rows = db
    .prepare('SELECT * FROM audit_log WHERE chain = ? ORDER BY chain_index, seq')
    .all(chain) as AuditRow[];
  return rows.map(toEntry);
}

export type AuditIssue =
  | { kind: 'audit-entry-altered'; chain: string; index: number; seq?: number; expectedHash: string; storedHash: string }
  | { kind: 'audit-link-broken'; chain: string; index: number; seq?: number; expectedPrevHash: string; storedPrevHash: string }
  | { kind: 'audit-entry-missing'; chain: string; index: number }
  | { kind: 'audit-entry-duplicated'; chain: string; index: number }
  | { kind: 'audit-head-mismatch'; chain: string; headIndex: number | null; lastIndex: number | null; message: string }
  | { kind: 'audit-sequence-rewound'; lastSeq: number; highestSeqEverIssued: number }
  | { kind: 'audit-sequence-gap'; missing: { from: number; to: number }[]; message: string };

/**
 * Walks a chain from its genesis. Each entry is checked on its own (stored hash against recomputed)
 * and against its predecessor (stored previous hash), so a changed entry and a removed entry are told apart.
 */
export function walkAuditChain(
  entries: readonly (Omit<AuditEntry, 'seq'> & { seq?: number })[],
  chain: string,
  head?: { index: number; hash: string },
): AuditIssue[] {
  const issues: AuditIssue[] = [];
  let expectedIndex = 0;
  let prevStoredHash = GENESIS_HASH;
  for (const e of entries) {
    if (e.index < expectedIndex) {
      issues.push({ kind: 'audit-entry-duplicated', chain, index: e.index });
      continue;
    }
    for (let missing = expectedIndex; missing < e.index; missing++) {
      issues.push({ kind: 'audit-entry-missing', chain, index: missing });
    }
    const recomputed = hashAuditEntry(e.prevHash, {
      chain: e.chain,
      index: e.index,
      at: e.at,
      actor: e.actor,
      action: e.action,
      details: e.details,
    });
    if (recomputed !== e.hash) {
      issues.push({ kind: 'audit-entry-altered', chain, index: e.index, seq: e.seq, expectedHash: recomputed, storedHash: e.hash });
    }
    if (e.prevHash !== prevStoredHash) {
      issues.push({
        kind: 'audit-link-broken',
        chain,
        index: e.index,
        seq: e.seq,
        expectedPrevHash: prevStoredHash,
        storedPrevHash: e.prevHash,
      });
    }
    prevStoredHash = e.hash;
    expectedIndex = e.index + 1;
  }
  const last = entries.length ? entries[entries.length - 1] : undefined;
  if (!head && last) {
    // The head row is what makes cutting entries off the end detectable; a chain without one has lost it.
    issues.push({
      kind: 'audit-head-mismatch',
      chain,
      headIndex: null,
      lastIndex: last.index,
      message: `No head is recorded for this chain, though its log holds entries up to ${last.index}; entries cut off its end could not be seen.`,
    });
  }
  if (head) {
    if (!last || head.index !== last.index || head.hash !== last.hash) {
      issues.push({
        kind: 'audit-head-mismatch',
        chain,
        headIndex: head.index,
        lastIndex: last ? last.index : null,
        message: `The recorded head of the chain is entry ${head.index}, but the log ${
          last ? `ends at entry ${last.index}` : 'holds no entries'
        }${last && head.index === last.index ? ' with a different hash' : ''}.`,
      });
      for (let missing = expectedIndex; missing <= head.index; missing++) {
        issues.push({ kind: 'audit-entry-missing', chain, index: missing });
      }
    }
  }
  return issues;
}

/** Checks one chain in this database against its entries and its recorded head. */
export function verifyAuditChain(db: ReadableDB, chain: string): AuditIssue[] {
  return walkAuditChain(listAuditEntries(db, chain), chain, getChainHead(db, chain));
}

/** Database-wide: the newest audit row of whichever chain must not have vanished. */
export function verifyAuditSequence(db: ReadableDB): AuditIssue[] {
  const issues: AuditIssue[] = [];
  const seqRow = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'`).get() as { seq: number } | undefined;
  const maxRow = db.prepare('SELECT MAX(seq) AS m FROM audit_log').get() as { m: number | null };
  // AUTOINCREMENT never reuses a number, so a gap at the top means the newest row of some chain was removed.
  if (seqRow && (maxRow.m ?? 0) < seqRow.seq) {
    issues.push({ kind: 'audit-sequence-rewound', lastSeq: maxRow.m ?? 0, highestSeqEverIssued: seqRow.seq });
  }
  // Rows are never deleted and a rolled-back insert takes its number back, so the row numbers of all
  // chains run without a hole from 1: a hole is entries removed, even a whole case's chain with its rows.
  const missing: { from: number; to: number }[] = [];
  let expected = 1;
  for (const { seq } of db.prepare('SELECT seq FROM audit_log ORDER BY seq').iterate() as IterableIterator<{ seq: number }>) {
    if (seq > expected && missing.length < 20) missing.push({ from: expected, to: seq - 1 });
    expected = seq + 1;
  }
  if (missing.length) {
    issues.push({
      kind: 'audit-sequence-gap',
      missing,
      message: `Audit rows ${missing.map((m) => (m.from === m.to ? m.from : `${m.from}-${m.to}`)).join(', ')} are gone from the database (of whichever chain they were).`,
    });
  }
  return issues;
}
