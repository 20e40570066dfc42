// What every web contents of the app may do: show the bundled renderer, nothing else. Permissions are
// denied (asked or merely checked), webviews are never attached, and navigation or redirects away from
// the renderer are stopped in every web contents, including ones created later (devtools, popups).
// main.ts hands in Electron's app, session and web contents; the shapes used are spelled out here, so
// the policy imports nothing from electron and its tests run under plain Node.

interface PreventableEvent {
  preventDefault(): void;
}

interface WebContentsLike {
  on(event: 'will-navigate' | 'will-redirect', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-frame-navigate', listener: (event: PreventableEvent & { url: string }) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

interface SessionLike {
  setPermissionRequestHandler(handler: (contents: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
  setPermissionCheckHandler(handler: () => boolean): void;
  setDevicePermissionHandler(handler: () => boolean): void;
}

interface AppLike {
  on(event: 'web-contents-created', listener: (event: unknown, contents: WebContentsLike) => void): unknown;
}

/** The renderer's own page, and only it, may be shown (same file, any hash or query). */
export function isRendererUrl(url: string, rendererIndexUrl: string): boolean {
  try {
    const target = new URL(url);
    const expected = new URL(rendererIndexUrl);
    return target.protocol === expected.protocol && target.host === expected.host && target.pathname === expected.pathname;
  } catch {
    return false;
  }
}

/** Denies every permission request and check: the renderer needs no camera, location, notification... */
export function denyAllPermissions(session: SessionLike): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
}

/**
 * Stops navigation and redirects anywhere but the renderer, refuses every new window (https links go
 * to the system browser) and never attaches a webview.
 */
export function guardWebContents(contents: WebContentsLike, rendererIndexUrl: string, openExternal: (url: string) => void): void {
  const stopUnlessRenderer = (event: { preventDefault(): void }, url: string) => {
    if (!isRendererUrl(url, rendererIndexUrl)) event.preventDefault();
  };
  contents.on('will-navigate', (event, url) => stopUnlessRenderer(event, url));
  contents.on('will-frame-navigate', (event) => stopUnlessRenderer(event, event.url));
  contents.on('will-redirect', (event, url) => stopUnlessRenderer(event, url));
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) openExternal(url);
    return { action: 'deny' };
  });
}

/** Applies the guard to every web contents the app ever creates; call before the first window. */
export function hardenApp(app: AppLike, rendererIndexUrl: string, openExternal: (url: string) => void): void {
  app.on('web-contents-created', (_event, contents) => guardWebContents(contents, rendererIndexUrl, openExternal));
}
