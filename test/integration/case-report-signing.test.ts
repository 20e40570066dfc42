// Signing a report with a PKCS#12 certificate (made here with node-forge): poppler's pdfsig sees a valid
// signature over the whole file, report verify still knows it, and a wrong passphrase signs nothing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { CaseStore, isCaseStoreError } from '../../electron/services/case-store';
import { exportCaseReport, verifyReportFile } from '../../electron/services/report/case-report';
import { runReportCommand } from '../../electron/cli/report-command';
import { datasetImages, sha256OfFile, tempDir } from '../fixtures/case-store/case-fixtures';
import { pdfText } from '../support/pdf-tools';

// node-forge ships no types; the few calls used here, typed loosely.
const forge: any = createRequire(import.meta.url)('node-forge');

function makeP12(passphrase: string): Buffer {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date('2026-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2030-01-01T00:00:00Z');
  const attrs = [
    { name: 'commonName', value: 'Test Examiner' },
    { name: 'organizationName', value: 'Test Forensic Lab' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'keyUsage', digitalSignature: true, nonRepudiation: true }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  const asn1 = forge.pkcs12.toPkcs12Asn1(keys.privateKey, [cert], passphrase, { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

let dataDir: string;
let store: CaseStore;
let caseId: string;
let p12: Buffer;

beforeAll(async () => {
  dataDir = tempDir('report-sign');
  store = CaseStore.open(dataDir);
  caseId = store.createCase({ caseNumber: 'SIGN-1', title: 'Signed report', examiner: 'Test Examiner' }).id;
  await store.ingest(caseId, datasetImages(1, 'gan'), { actor: 'Test Examiner' });
  p12 = makeP12('correct horse');
});
afterAll(() => store?.close());

const signing = (passphrase: string) => ({ p12, passphrase, name: 'Test Examiner', reason: 'Case report', location: 'Test Forensic Lab', contactInfo: 'lab@example.org' });

describe('signed reports', () => {
  it('pdfsig finds a valid signature covering the whole file; report verify knows the signed file', async () => {
    const out = path.join(tempDir('report-sign-out'), 'signed.pdf');
    const r = await exportCaseReport(store, caseId, { dataDir, actor: 'Test Examiner', outFile: out, exportedAt: '2026-11-30T08:00:00Z', timeZone: 'UTC', sign: signing('correct horse') });
    expect(r.report.signed).toBe(true);
    expect(r.report.sha256).toBe(sha256OfFile(out));
    const sig = execFileSync('pdfsig', [out]).toString('utf8');
    expect(sig).toContain('Signature #1');
    expect(sig).toContain('Signer Certificate Common Name: Test Examiner');
    expect(sig).toContain('Signature Validation: Signature is Valid.');
    expect(sig).toContain('Total document signed');
    expect(sig).toMatch(/Signing Time:\s+Nov 30 2026/);
    expect(pdfText(out)).toContain('SIGN-1');
    expect(await verifyReportFile(store, out)).toMatchObject({ status: 'issued', ok: true, report: { signed: true } });
    expect(store.auditLog(caseId).at(-1)!.details).toMatchObject({ signed: true, sha256: r.report.sha256 });

    // A changed byte breaks both the store's record and the signature.
    const bytes = fs.readFileSync(out);
    const i = bytes.indexOf('/Type /Page') + 3;
    bytes[i] = bytes[i] ^ 0x20;
    const tampered = path.join(path.dirname(out), 'tampered.pdf');
    fs.writeFileSync(tampered, bytes);
    expect((await verifyReportFile(store, tampered)).ok).toBe(false);
    expect(execFileSync('pdfsig', [tampered]).toString('utf8')).not.toContain('Signature is Valid.');
  });

  it('CLI: --sign with the passphrase from an environment variable', async () => {
    const dir = tempDir('report-sign-out');
    const cert = path.join(dir, 'examiner.p12');
    fs.writeFileSync(cert, p12);
    process.env.REPORT_TEST_P12_PASS = 'correct horse';
    const lines: unknown[] = [];
    const ctx = { dataDir, json: true, print: (o: unknown) => lines.push(o), printError: (o: unknown) => lines.push(o) };
    const out = path.join(dir, 'cli-signed.pdf');
    expect(await runReportCommand([caseId, '--out', out, '--sign', cert, '--passphrase-env', 'REPORT_TEST_P12_PASS', '--reason', 'Court'], ctx)).toBe(0);
    expect(lines[0]).toMatchObject({ signed: true, sha256: sha256OfFile(out) });
    expect(execFileSync('pdfsig', [out]).toString('utf8')).toContain('Signature Validation: Signature is Valid.');
    expect(await runReportCommand([caseId, '--out', path.join(dir, 'x.pdf'), '--sign', cert, '--passphrase-env', 'NO_SUCH_VARIABLE_SET'], ctx)).toBe(2);
    expect(fs.existsSync(path.join(dir, 'x.pdf'))).toBe(false);
  });

  it('a wrong passphrase: refused, nothing written, nothing recorded', async () => {
    const dir = tempDir('report-sign-out');
    const before = store.listReports(caseId).length;
    const e = await exportCaseReport(store, caseId, { dataDir, actor: 'Test Examiner', outFile: path.join(dir, 'r.pdf'), sign: signing('wrong') }).catch((err: unknown) => err);
    expect(isCaseStoreError(e, 'INVALID_ARGUMENT')).toBe(true);
    expect((e as Error).message).toMatch(/was not signed/);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(store.listReports(caseId)).toHaveLength(before);
  });
});
