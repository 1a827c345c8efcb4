// The page: loads the sample picture, runs the chosen filter through the
// crate (web/app, built into web/pkg by web/build.sh) and shows the result.
import init, { Demo, filter_names } from './pkg/conv2d_wgpu_web.js';

const $ = id => document.getElementById(id);
const status = (text, error = false) => { $('status').textContent = text; $('status').className = error ? 'error' : ''; };

async function samplePixels() {
  const img = new Image();
  img.src = '../docs/sample.png';
  await img.decode();
  const ctx = $('before').getContext('2d');
  ctx.drawImage(img, 0, 0);
  return ctx.getImageData(0, 0, img.width, img.height);
}

async function main() {
  await init();
  const picture = await samplePixels();
  if (!navigator.gpu) throw new Error('this browser offers no WebGPU (navigator.gpu is missing)');
  const demo = await Demo.create();
  const info = (await navigator.gpu.requestAdapter())?.info ?? {};
  $('adapter').textContent = `${info.vendor || '?'} / ${info.architecture || '?'}, through ${demo.adapter()}`;
  const run = async name => {
    for (const b of $('filters').children) b.setAttribute('aria-pressed', String(b.dataset.filter === name));
    status(`running ${name}`);
    const result = await demo.filter(name, new Uint8Array(picture.data.buffer), picture.width, picture.height);
    const out = new ImageData(new Uint8ClampedArray(result.pixels), picture.width, picture.height);
    $('after').getContext('2d').putImageData(out, 0, 0);
    $('after-caption').textContent = `after: ${name}`;
    $('algorithm').textContent = result.algorithm;
    $('gpu-ms').textContent = result.gpu_ms.toFixed(2);
    $('first-ms').textContent = result.first_ms.toFixed(1);
    $('difference').textContent = result.max_difference.toExponential(2);
    status(`done: ${name}`);
  };
  for (const name of filter_names()) {
    const button = document.createElement('button');
    button.textContent = name;
    button.dataset.filter = name;
    button.onclick = () => run(name).catch(e => status(String(e), true));
    $('filters').append(button);
  }
  await run(filter_names()[0]);
}

main().catch(e => status(String(e), true));
