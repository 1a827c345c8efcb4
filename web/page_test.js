// The page's browser test: serves the repository, opens web/ in headless
// Chromium, clicks through every filter, reads the difference from the CPU
// reference off the page, checks the picture changed, and saves a screenshot
// (docs/web_page.png, or the path given). Exits non-zero on any failure.
const path = require('path');
const { open } = require('./browser.js');

// The filters' outputs are within [-2, 2], sums of at most 25 products of
// values in [0, 1]: the GPU and the CPU agree to f32 rounding, far below this.
const TOLERANCE = 1e-4;

(async () => {
  const screenshot = path.resolve(process.argv[2] || path.join(__dirname, '../docs/web_page.png'));
  const { page, base, close } = await open();
  let failed = false;
  try {
    await page.goto(base);
    const settled = name => page.waitForFunction(
      want => { const s = document.getElementById('status'); return s.className === 'error' || s.textContent === want; },
      `done: ${name}`, { timeout: 300000 });
    await page.waitForFunction(() => document.querySelectorAll('#filters button').length > 0 ||
      document.getElementById('status').className === 'error', null, { timeout: 300000 });
    const names = await page.$$eval('#filters button', bs => bs.map(b => b.dataset.filter));
    if (names.length !== 4) {
      throw new Error(`expected 4 filter buttons, found ${names.length}; status: ${await page.textContent('#status')}`);
    }
    await settled(names[0]);
    const rows = [];
    for (const name of [...names.slice(1), names[0]]) {
      await page.click(`#filters button[data-filter="${name}"]`);
      await settled(name);
      const row = await page.evaluate(() => {
        const text = id => document.getElementById(id).textContent;
        const pixels = id => document.getElementById(id).getContext('2d').getImageData(0, 0, 192, 192).data;
        const [before, after] = [pixels('before'), pixels('after')];
        let changed = 0, lit = 0;
        for (let i = 0; i < after.length; i += 4) {
          if (after[i] !== before[i] || after[i + 1] !== before[i + 1] || after[i + 2] !== before[i + 2]) changed++;
          if (after[i] + after[i + 1] + after[i + 2] > 0) lit++;
        }
        return { status: text('status'), className: document.getElementById('status').className,
          adapter: text('adapter'), algorithm: text('algorithm'), difference: Number(text('difference')),
          gpu_ms: Number(text('gpu-ms')), first_ms: Number(text('first-ms')), changed, lit };
      });
      row.filter = name;
      rows.push(row);
      const problems = [];
      if (row.className === 'error') problems.push(`the page reports an error: ${row.status}`);
      if (!(row.difference <= TOLERANCE)) problems.push(`difference ${row.difference} from the CPU reference is above ${TOLERANCE}`);
      if (row.changed < 1000) problems.push(`only ${row.changed} pixels differ from the picture`);
      if (row.lit < 1000) problems.push(`only ${row.lit} pixels are not black`);
      if (!(row.gpu_ms > 0)) problems.push(`GPU time ${row.gpu_ms} is not a positive number`);
      for (const p of problems) { console.error(`FAIL ${name}: ${p}`); failed = true; }
    }
    await page.screenshot({ path: screenshot, fullPage: true });
    for (const r of rows) {
      console.log(`${r.filter.padEnd(9)} ${r.algorithm.padEnd(12)} difference ${r.difference.toExponential(2)}  ` +
        `${r.gpu_ms.toFixed(2)} ms (first ${r.first_ms.toFixed(1)} ms), ${r.changed} pixels changed  on ${r.adapter}`);
    }
    console.log(`screenshot: ${screenshot}`);
  } catch (e) {
    console.error(`FAIL: ${e.message}`);
    failed = true;
  } finally {
    await close();
  }
  process.exit(failed ? 1 : 0);
})();
