// The viewer's shared transform and the renderer's error sentences, as plain functions.
import { describe, it, expect } from 'vitest';
import { actualSizeTransform, cssTransform, fitTransform, panBy, zoomAt } from '../../renderer/src/features/evidence/view-transform';
import { readableError } from '../../renderer/src/api/error-text';
import { ApiCallError } from '../../electron/shared/api-contract';

describe('view transform', () => {
  it('fits an image inside a panel, centred, and shows it 1:1', () => {
    expect(fitTransform({ width: 1000, height: 500 }, { width: 400, height: 400 })).toEqual({ scale: 0.4, x: 0, y: 100 });
    expect(actualSizeTransform({ width: 100, height: 50 }, { width: 400, height: 400 })).toEqual({ scale: 1, x: 150, y: 175 });
  });

  it('keeps the image point under the cursor in place while zooming', () => {
    const t = { scale: 0.5, x: 10, y: 20 };
    const px = 110;
    const py = 70;
    const imageX = (px - t.x) / t.scale;
    const imageY = (py - t.y) / t.scale;
    const z = zoomAt(t, 2, px, py);
    expect(z.scale).toBe(1);
    expect((px - z.x) / z.scale).toBeCloseTo(imageX, 9);
    expect((py - z.y) / z.scale).toBeCloseTo(imageY, 9);
    expect(panBy(z, 5, -5)).toEqual({ scale: 1, x: z.x + 5, y: z.y - 5 });
    expect(cssTransform({ scale: 2, x: 1, y: 2 })).toBe('translate(1.00px, 2.00px) scale(2.00000)');
  });

  it('clamps zoom to its bounds', () => {
    expect(zoomAt({ scale: 30, x: 0, y: 0 }, 10, 0, 0).scale).toBe(32);
    expect(zoomAt({ scale: 0.03, x: 0, y: 0 }, 0.1, 0, 0).scale).toBe(0.02);
  });
});

describe('error sentences', () => {
  it('turns validator text into a sentence and keeps the raw text as detail', () => {
    const e = new ApiCallError('INVALID_REQUEST', 'Invalid request for cases.create: caseNumber: String must contain at least 1 character(s)', [
      'caseNumber: String must contain at least 1 character(s)',
      'title: String must contain at most 300 character(s)',
    ]);
    const r = readableError(e);
    expect(r.sentence).toBe('The case number is required. The title is too long (at most 300 characters).');
    expect(r.detail).toContain('Invalid request for cases.create');
  });

  it('explains "Failed to fetch" and an error that crossed the Electron bridge without its class', () => {
    expect(readableError(new TypeError('Failed to fetch')).sentence).toBe('The forensic services cannot be reached. Is the server still running?');
    const bridged = Object.assign(new Error('No case with id "x".'), { code: 'CASE_NOT_FOUND' });
    expect(readableError(bridged)).toEqual({ sentence: 'No case with id "x".', detail: 'CASE_NOT_FOUND: No case with id "x".' });
  });
});
