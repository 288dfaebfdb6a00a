// Debian's Chromium, headless, driven by playwright-core: never a
// downloaded browser. A fresh profile under the test's own directory (so
// screenshots and profile go away with it), closed in teardown.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags the suite runs Chromium with: no sandbox (root in CI), no network of its own. */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchChromium(t: { teardown(fn: () => unknown): void }, dir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (make test-deps installs it, test/support/browser/packages.txt)`);
  const profile = path.join(dir, 'chromium-profile');
  mkdirSync(profile, { recursive: true });
  // launchPersistentContext is playwright's way to give --user-data-dir (a
  // fresh, empty directory here); headless comes from the flag list.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS.filter((f) => f !== '--headless'),
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  t.teardown(() => context.close());
  return context;
}
