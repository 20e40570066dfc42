// Only our own window, showing our own bundled renderer, may call the services.
export function isTrustedSenderUrl(senderUrl: string, rendererIndexUrl: string): boolean {
  try {
    const sender = new URL(senderUrl);
    const expected = new URL(rendererIndexUrl);
    return sender.protocol === expected.protocol && sender.host === expected.host && sender.pathname === expected.pathname;
  } catch {
    return false;
  }
}
