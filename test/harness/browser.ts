import { chromium, type Browser, type Page } from 'playwright-core';

// Headless Chromium from Debian's archive (`apt-get install chromium`), driven by playwright-core:
// nothing downloads a browser. One browser per test file; each test opens its own page, which
// collects every console error and uncaught page error so a test can assert there were none.

export const CHROMIUM = process.env.PROMOTE_CHROMIUM ?? '/usr/bin/chromium';

export async function startBrowser(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

export interface WatchedPage {
  page: Page;
  /** Console messages of type error and uncaught exceptions, in order. */
  errors: string[];
}

export async function openPage(browser: Browser, options: { width?: number; height?: number } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1400, height: options.height ?? 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { page, errors };
}
