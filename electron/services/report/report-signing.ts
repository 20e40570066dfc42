// Signs a report with the examiner's PKCS#12 certificate (adbe.pkcs7.detached, the form PDF readers
// show as "signed"). The signing time is the report's export time, and RSA PKCS#1 v1.5 signatures are
// deterministic, so the same inputs and certificate still give the same bytes.
import { plainAddPlaceholder } from '@signpdf/placeholder-plain';
import * as signerP12 from '@signpdf/signer-p12';
import * as signpdfModule from '@signpdf/signpdf';
import { CaseStoreError } from '../case-store';

export interface ReportSigningOptions {
  /** The PKCS#12 (.p12 / .pfx) file's bytes. */
  p12: Buffer;
  passphrase?: string;
  /** Shown by PDF readers as the signer's stated name, reason, location and contact. */
  name: string;
  reason: string;
  location: string;
  contactInfo: string;
}

// The packages are CommonJS; their exports sit under `default` when imported from ESM (tsx, the bundle).
type SignPdfLike = { sign(pdf: Buffer, signer: unknown, signingTime?: Date): Promise<Buffer> };
type P12SignerClass = new (p12: Buffer, o: { passphrase?: string }) => unknown;
const cjs = <T>(mod: unknown, name: string): T => {
  const m = mod as Record<string, unknown> & { default?: Record<string, unknown> };
  return (m[name] ?? m.default?.[name]) as T;
};
const SignPdf = cjs<new () => SignPdfLike>(signpdfModule, 'SignPdf');
const P12Signer = cjs<P12SignerClass>(signerP12, 'P12Signer');

export async function signReportPdf(pdf: Buffer, signingTime: Date, options: ReportSigningOptions): Promise<Buffer> {
  let withPlaceholder: Buffer;
  try {
    withPlaceholder = plainAddPlaceholder({
      pdfBuffer: pdf,
      reason: options.reason,
      contactInfo: options.contactInfo,
      name: options.name,
      location: options.location,
      signingTime,
      // Written as a PDF name: no spaces.
      appName: 'AI-Image-Forensics',
    });
  } catch (e) {
    throw new CaseStoreError('INVALID_ARGUMENT', `The report could not take a signature field: ${(e as Error).message}`, { reason: 'SIGNING_FAILED' });
  }
  try {
    return await new SignPdf().sign(withPlaceholder, new P12Signer(options.p12, { passphrase: options.passphrase ?? '' }), signingTime);
  } catch (e) {
    throw new CaseStoreError('INVALID_ARGUMENT', `The report was not signed: ${(e as Error).message} (is it a PKCS#12 file, and the passphrase right?)`, { reason: 'SIGNING_FAILED' });
  }
}
