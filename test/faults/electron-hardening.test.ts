// Electron cannot run on this machine, so the hardening is checked in three honest parts: the policy
// module's handlers, driven through Node's EventEmitter the way Electron emits these events; main.ts's
// wiring of it, read from its syntax tree (and typecheck proves Electron's objects fit the policy's
// shapes); and the packaging fuses, read from electron-builder.yml and checked against the names
// electron-builder's own schema accepts.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { denyAllPermissions, hardenApp, isRendererUrl } from '../../electron/app-hardening';
import { repoRoot } from '../fixtures/case-store/case-fixtures';

const RENDERER = 'file:///opt/app/resources/app.asar/dist/renderer/index.html';

class Contents extends EventEmitter {
  openHandler?: (d: { url: string }) => { action: 'deny' };
  setWindowOpenHandler(h: (d: { url: string }) => { action: 'deny' }) {
    this.openHandler = h;
  }
}

/** Emits an event the way Electron does (a preventable event first) and says whether it was stopped. */
function stopped(contents: Contents, name: string, url?: string): boolean {
  let prevented = false;
  const event = { preventDefault: () => void (prevented = true), url };
  if (url === undefined || name === 'will-frame-navigate') contents.emit(name, event);
  else contents.emit(name, event, url);
  return prevented;
}

describe('the hardening policy', () => {
  it('guards every web contents created after it is installed: navigation, redirects, webviews, new windows', () => {
    const app = new EventEmitter();
    const opened: string[] = [];
    hardenApp(app as never, RENDERER, (u) => opened.push(u));
    const contents = new Contents();
    app.emit('web-contents-created', {}, contents);
    for (const name of ['will-navigate', 'will-redirect', 'will-frame-navigate']) {
      expect(stopped(contents, name, 'https://evil.example/'), name).toBe(true);
      expect(stopped(contents, name, 'file:///etc/passwd'), name).toBe(true);
      expect(stopped(contents, name, 'file:///opt/app/resources/app.asar/dist/renderer/other.html'), name).toBe(true);
      expect(stopped(contents, name, `${RENDERER}#/cases`), name).toBe(false);
    }
    expect(stopped(contents, 'will-attach-webview')).toBe(true);
    expect(contents.openHandler!({ url: 'https://example.org/paper' })).toEqual({ action: 'deny' });
    expect(contents.openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(contents.openHandler!({ url: 'http://insecure.example/' })).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://example.org/paper']);
  });

  it('denies every permission, asked for or checked', () => {
    const handlers: Record<string, (...a: any[]) => unknown> = {};
    denyAllPermissions({
      setPermissionRequestHandler: (h) => void (handlers.request = h),
      setPermissionCheckHandler: (h) => void (handlers.check = h),
      setDevicePermissionHandler: (h) => void (handlers.device = h),
    });
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'fullscreen', 'openExternal']) {
      let granted: boolean | undefined;
      handlers.request({}, permission, (g: boolean) => (granted = g));
      expect(granted, permission).toBe(false);
    }
    expect(handlers.check()).toBe(false);
    expect(handlers.device()).toBe(false);
  });

  it('knows the renderer page from look-alikes', () => {
    expect(isRendererUrl(`${RENDERER}?x=1`, RENDERER)).toBe(true);
    expect(isRendererUrl('file://evil/opt/app/resources/app.asar/dist/renderer/index.html', RENDERER)).toBe(false);
    expect(isRendererUrl('not a url', RENDERER)).toBe(false);
  });
});

/** Calls in main.ts as `callee(args)` text, in source order, with whether they sit inside whenReady's callback. */
function callsInMain(): { callee: string; args: string; inReady: boolean }[] {
  const file = path.join(repoRoot, 'electron/main.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const calls: { callee: string; args: string; inReady: boolean }[] = [];
  const visit = (node: ts.Node, inReady: boolean) => {
    let ready = inReady;
    if (ts.isCallExpression(node)) {
      const callee = node.expression.getText(source);
      calls.push({ callee, args: node.arguments.map((a) => a.getText(source)).join(', '), inReady });
      if (callee === 'app.whenReady().then') ready = true;
    }
    ts.forEachChild(node, (child) => visit(child, ready));
  };
  visit(source, false);
  return calls;
}

describe('main.ts wires the policy in', () => {
  const calls = callsInMain();
  it('installs the web-contents guard before the app is ready, so no web contents escapes it', () => {
    const harden = calls.find((c) => c.callee === 'hardenApp');
    expect(harden).toMatchObject({ inReady: false, args: expect.stringMatching(/^app, rendererIndexUrl, /) });
    expect(calls.findIndex((c) => c.callee === 'hardenApp')).toBeLessThan(calls.findIndex((c) => c.callee === 'app.whenReady().then'));
  });
  it('denies permissions on the default session and keeps the window sandboxed', () => {
    expect(calls).toContainEqual({ callee: 'denyAllPermissions', args: 'session.defaultSession', inReady: true });
    const text = fs.readFileSync(path.join(repoRoot, 'electron/main.ts'), 'utf8');
    for (const pref of ['contextIsolation: true', 'sandbox: true', 'nodeIntegration: false', 'webviewTag: false']) expect(text).toContain(pref);
    expect(calls.some((c) => c.callee === 'app.enableSandbox')).toBe(true);
  });
});

describe('packaging fuses', () => {
  const require = createRequire(import.meta.url);
  const yaml = require('js-yaml') as { load(text: string): any };
  const config = yaml.load(fs.readFileSync(path.join(repoRoot, 'electron-builder.yml'), 'utf8'));
  it('turns runAsNode off, cookie encryption, ASAR integrity and ASAR-only loading on', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableCookieEncryption: true,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
    });
  });
  it('uses only fuse names electron-builder knows (a misspelt fuse would be ignored silently)', () => {
    const schema = JSON.parse(fs.readFileSync(require.resolve('app-builder-lib/scheme.json'), 'utf8'));
    const known = Object.keys(schema.definitions.FuseOptionsV1.properties);
    expect(Object.keys(config.electronFuses).filter((k) => !known.includes(k))).toEqual([]);
    // The app packs into an ASAR (the default); the fuses above would refuse to load it otherwise.
    expect(config.asar).not.toBe(false);
  });
});
