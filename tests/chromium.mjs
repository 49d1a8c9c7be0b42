// Headless Chromium for the browser, package and benchmark tests: the system's Chromium through playwright-core,
// with WebGPU on SwiftShader (a software Vulkan: --enable-unsafe-webgpu, plus the Vulkan and ANGLE flags a WebGPU
// canvas needs) or with WebGPU turned off to test the CPU path. Console errors and requests are collected.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** The system's Chromium (CHROMIUM_PATH first), or undefined. */
export function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((path) => path && existsSync(path));
}

/** Starts a browser with one page. Returns { browser, context, page, consoleErrors, requests }. */
export async function launchChromium({ webgpu = true, viewport = { width: 1280, height: 900 }, colorScheme = 'light' } = {}) {
  const args = ['--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (webgpu) args.push('--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader');
  else args.push('--disable-webgpu', '--disable-gpu');
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args });
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  const requests = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  page.on('request', (request) => requests.push(request.url()));
  return { browser, context, page, consoleErrors, requests };
}
