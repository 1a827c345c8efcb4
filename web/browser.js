// Headless Debian Chromium with WebGPU on (SwiftShader where there is no
// GPU), through playwright-core; and the page server on a free port.
const { chromium } = require('playwright-core');
const { execSync } = require('child_process');
const { start } = require('./serve.js');

async function open() {
  const server = await start(0);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || execSync('command -v chromium').toString().trim(),
    headless: true,
    // Chromium picks the adapter: SwiftShader on a machine without a GPU.
    args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run'],
  });
  const page = await browser.newPage();
  page.on('console', m => console.error('console:', m.text()));
  page.on('pageerror', e => console.error('page error:', e.message));
  const base = `http://127.0.0.1:${server.address().port}/web/`;
  const close = async () => { await browser.close(); server.close(); };
  return { page, base, close };
}

module.exports = { open };
