// The same-run browser benchmark: opens web/bench.html in headless Chromium
// and prints a Markdown table of the crate against TF.js's WebGPU and CPU
// backends (GFLOP/s, geomean over B2-B10), then the raw JSON on stderr.
// `node web/bench.js [--crate-only]` after web/build.sh.
const { open } = require('./browser.js');

const geomean = xs => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

(async () => {
  const { page, base, close } = await open();
  let code = 0;
  try {
    const query = new URLSearchParams();
    if (process.argv.includes('--crate-only')) query.set('only', 'crate');
    const force = process.argv.find(a => a.startsWith('--force='));
    if (force) query.set('force', force.slice('--force='.length));
    const only = process.argv.find(a => a.startsWith('--ids='));
    if (only) query.set('ids', only.slice('--ids='.length));
    await page.goto(`${base}bench.html?${query}`);
    await page.waitForFunction(() => window.result, null, { timeout: 1200000, polling: 1000 });
    const r = await page.evaluate(() => window.result);
    if (r.error) throw new Error(r.error);
    console.error(JSON.stringify(r));
    const ids = r.crate.map(x => x.id);
    const forced = Object.keys(r).filter(k => k.startsWith('crate_'))
      .map(k => [`forced ${k.slice(6)}`, ids.map(id => r[k].find(x => x.id === id) || { gflops: NaN })]);
    const series = [['conv2d-wgpu (WebGPU)', r.crate], ['TF.js 4.22 WebGPU', r.tfjs_webgpu], ['TF.js 4.22 CPU', r.tfjs_cpu], ...forced]
      .filter(([, rows]) => rows);
    console.log(`Adapter: ${r.adapter}; ${r.user_agent}\n`);
    console.error(r.context);
    console.log(`| backend | ${ids.join(' | ')} | geomean |`);
    console.log(`|---|${ids.map(() => '---:').join('|')}|---:|`);
    for (const [name, rows] of series) {
      console.log(`| ${name} | ${rows.map(x => x.gflops.toFixed(2)).join(' | ')} | ${geomean(rows.map(x => x.gflops).filter(x => x > 0)).toFixed(2)} |`);
    }
    for (const [name, rows] of series.slice(1).filter(([n]) => n.startsWith('TF.js'))) {
      const ratios = rows.map((x, i) => r.crate[i].gflops / x.gflops);
      console.log(`| crate / ${name} | ${ratios.map(x => x.toFixed(2) + 'x').join(' | ')} | ${geomean(ratios).toFixed(2)}x |`);
    }
    console.log(`\nAlgorithms: ${r.crate.map(x => `${x.id} ${x.algorithm}`).join(', ')}`);
    console.log(`Readback alone (ms, an output-sized tensor): ${r.crate.map(x => `${x.id} ${x.readback_ms.toFixed(1)} of ${x.ms.toFixed(1)}`).join(', ')}`);
    console.log(`First call (ms, pipeline compilation included): ${r.crate.map(x => `${x.id} ${x.cold_ms.toFixed(0)}`).join(', ')}`);
  } catch (e) {
    console.error(`FAIL: ${e.message}`);
    code = 1;
  } finally {
    await close();
  }
  process.exit(code);
})();
