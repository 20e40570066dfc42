import { describe, it, expect } from 'vitest';
import crypto from 'node:crypto';
import {
  GENESIS_HASH,
  hashAuditEntry,
  walkAuditChain,
  type AuditEntry,
} from '../../electron/services/case-store/audit-log';
import type { ReadableDB, WritableDB } from '../../electron/services/case-store/case-db';
import { insertCase, listCases } from '../../electron/services/case-store/case-queries';

type Entry = Omit<AuditEntry, 'seq'>;

function buildChain(n: number, chain = 'c'): Entry[] {
  const out: Entry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const content = { chain, index: i, at: `2024-01-01T00:00:0${i}.000Z`, actor: 'ann', action: 'x', details: { i } };
    const hash = hashAuditEntry(prev, content);
    out.push({ ...content, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

describe('walkAuditChain', () => {
  it('an intact chain with a matching head has no issues', () => {
    const chain = buildChain(5);
    expect(walkAuditChain(chain, 'c', { index: 4, hash: chain[4].hash })).toEqual([]);
  });

  it('each hash is sha256(previous hash + canonical JSON of the entry)', () => {
    const [first] = buildChain(1);
    // Computed independently: sha256 over the genesis hash followed by the sorted-key JSON.
    const text = GENESIS_HASH + '{"action":"x","actor":"ann","at":"2024-01-01T00:00:00.000Z","chain":"c","details":{"i":0},"index":0}';
    const expected = crypto.createHash('sha256').update(text).digest('hex');
    expect(first.hash).toBe(expected);
  });

  it('a changed entry is reported at its index, and the link after it stays intact', () => {
    const chain = buildChain(5);
    chain[2] = { ...chain[2], details: { i: 99 } };
    const issues = walkAuditChain(chain, 'c', { index: 4, hash: chain[4].hash });
    expect(issues).toEqual([expect.objectContaining({ kind: 'audit-entry-altered', index: 2 })]);
  });

  it('a changed entry whose hash was recomputed breaks the next link', () => {
    const chain = buildChain(5);
    const { prevHash, hash: _old, ...content } = { ...chain[2], details: { i: 99 } };
    chain[2] = { ...content, prevHash, hash: hashAuditEntry(prevHash, content) };
    const issues = walkAuditChain(chain, 'c', { index: 4, hash: chain[4].hash });
    expect(issues).toEqual([expect.objectContaining({ kind: 'audit-link-broken', index: 3 })]);
  });

  it('a removed entry is reported as missing, with the broken link after it', () => {
    const chain = buildChain(5);
    chain.splice(1, 1);
    const issues = walkAuditChain(chain, 'c', { index: 4, hash: chain[3].hash });
    expect(issues).toContainEqual({ kind: 'audit-entry-missing', chain: 'c', index: 1 });
    expect(issues).toContainEqual(expect.objectContaining({ kind: 'audit-link-broken', index: 2 }));
  });

  it('a cut-off tail is caught by the recorded head', () => {
    const chain = buildChain(5);
    const head = { index: 4, hash: chain[4].hash };
    const issues = walkAuditChain(chain.slice(0, 3), 'c', head);
    expect(issues).toContainEqual(expect.objectContaining({ kind: 'audit-head-mismatch', headIndex: 4, lastIndex: 2 }));
    expect(issues).toContainEqual({ kind: 'audit-entry-missing', chain: 'c', index: 3 });
    expect(issues).toContainEqual({ kind: 'audit-entry-missing', chain: 'c', index: 4 });
  });
});

describe('ReadableDB and WritableDB', () => {
  it('a write through a read-only handle is a compile error (checked by tsc)', () => {
    const typeCheckOnly = (reader: ReadableDB, writer: WritableDB) => {
      listCases(reader);
      listCases(writer); // a writable connection can also read
      const c = { id: 'x', caseNumber: 'n', title: 't', examiner: 'e', agency: null, createdAt: '', closedAt: null };
      insertCase(writer, c);
      // @ts-expect-error insertCase needs a WritableDB
      insertCase(reader, c);
    };
    expect(typeof typeCheckOnly).toBe('function');
  });
});
