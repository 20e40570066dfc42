import { describe, it, expect } from 'vitest';
import { validateApiRequest } from '../../electron/shared/validate-request';
import { apiMethods, providerPreferenceSchema } from '../../electron/shared/api-contract';
import { PROVIDER_NAMES } from '../../electron/services/engine/execution-providers';
import { isTrustedSenderUrl } from '../../electron/ipc/trusted-sender';
import { parseGlobalOptions } from '../../electron/cli/cli-context';
import { defaultDataDir } from '../../electron/services/app/data-dir';

describe('API request validation', () => {
  it('offers the renderer exactly the providers the engine knows, plus auto', () => {
    expect(providerPreferenceSchema.options).toEqual(['auto', ...PROVIDER_NAMES]);
  });

  it('accepts a well-formed request', () => {
    const r = validateApiRequest('jobs.get', { jobId: 'abc' });
    expect(r.ok).toBe(true);
  });
  it('refuses an unknown method with UNKNOWN_METHOD', () => {
    const r = validateApiRequest('fs.deleteEverything', {});
    expect(r).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } });
  });
  it('refuses a wrong shape with INVALID_REQUEST naming the field', () => {
    const r = validateApiRequest('jobs.get', { jobId: 42 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('INVALID_REQUEST');
      expect(r.error.message).toContain('jobId');
    }
  });
  it('refuses extra fields (strict schemas)', () => {
    expect(validateApiRequest('app.info', { sneaky: true }).ok).toBe(false);
  });
  it('refuses a job kind the contract does not know', () => {
    expect(validateApiRequest('jobs.start', { kind: 'shell.exec', paths: ['/'] }).ok).toBe(false);
  });
  it('does not treat prototype keys as methods', () => {
    expect(validateApiRequest('constructor', {}).ok).toBe(false);
    expect(validateApiRequest('__proto__', {}).ok).toBe(false);
    expect(apiMethods).toContain('app.info');
  });
});

describe('IPC sender check', () => {
  const index = 'file:///opt/app/dist/renderer/index.html';
  it('trusts only the bundled renderer page', () => {
    expect(isTrustedSenderUrl('file:///opt/app/dist/renderer/index.html', index)).toBe(true);
    expect(isTrustedSenderUrl('file:///tmp/evil.html', index)).toBe(false);
    expect(isTrustedSenderUrl('https://example.com/', index)).toBe(false);
    expect(isTrustedSenderUrl('not a url', index)).toBe(false);
  });
});

describe('CLI global options', () => {
  it('splits --data-dir and --json from command arguments', () => {
    expect(parseGlobalOptions(['analyze', '--data-dir', '/x', 'a.png', '--json'])).toEqual({
      dataDir: '/x',
      json: true,
      help: false,
      rest: ['analyze', 'a.png'],
    });
    expect(parseGlobalOptions(['--data-dir']).error).toMatch(/data-dir/);
  });
  it('picks the platform application-data folder by default', () => {
    expect(defaultDataDir({ XDG_CONFIG_HOME: '/cfg' }, 'linux')).toBe('/cfg/ai-image-forensics');
    expect(defaultDataDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32')).toContain('ai-image-forensics');
    expect(defaultDataDir({ FORENSICS_DATA_DIR: '/d' }, 'linux')).toBe('/d');
  });
});
