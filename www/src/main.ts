// The page: finds the backend, shows the adapter, and runs the kernel check in the worker.
import { CoreClient } from './client';
import { byId, h, replace } from './dom';
import { drawHeatmap } from './heatmap';
import type { AdapterReport, Backend, KernelCheck } from './protocol';

const core = new CoreClient();

declare global {
  interface Window {
    /** The last kernel check, for tests and the curious (open the console). */
    tpKernelCheck?: KernelCheck;
    tpAdapter?: AdapterReport;
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  if (bytes >= 2 ** 10) return `${(bytes / 2 ** 10).toFixed(0)} KiB`;
  return `${bytes} B`;
}

function setBadge(backend: Backend | 'error', label: string, why: string): void {
  const badge = byId('backend-badge');
  badge.dataset.backend = backend;
  badge.textContent = label;
  badge.title = why;
}

function showAdapter(report: AdapterReport): void {
  const body = byId('backend-body');
  if (!report.available) {
    replace(
      body,
      h('p', { class: 'notice', id: 'webgpu-missing' }, `WebGPU is not available: ${report.reason}.`),
      h(
        'p',
        {},
        'The playground uses the CPU path instead: the same Rust code compiled to WebAssembly. It is slower, ',
        'but every panel works. To use WebGPU, open the page in a recent Chrome, Edge or Safari.',
      ),
    );
    return;
  }
  const name = [report.vendor, report.architecture, report.device, report.description].filter(Boolean).join(' · ');
  const rows: [string, string][] = [
    ['Adapter', name || '(the browser does not name it)'],
    [
      'Kind',
      report.isFallback
        ? 'software fallback: correct, but on this machine the CPU path may be faster'
        : 'hardware GPU',
    ],
  ];
  const limits = report.limits ?? {};
  rows.push(['Largest storage binding', formatBytes(limits.maxStorageBufferBindingSize)]);
  rows.push(['Storage buffers per stage', String(limits.maxStorageBuffersPerShaderStage)]);
  rows.push(['Workgroup memory', formatBytes(limits.maxComputeWorkgroupStorageSize)]);
  rows.push(['Invocations per workgroup', String(limits.maxComputeInvocationsPerWorkgroup)]);
  rows.push(['Features', (report.features ?? []).join(', ') || 'none']);
  replace(
    body,
    h('table', { class: 'facts', id: 'adapter-table' }, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))),
  );
}

function showCheck(check: KernelCheck): void {
  const canvasOut = h('canvas', { class: 'heatmap', 'aria-label': 'kernel output as a heatmap' });
  const canvasRef = h('canvas', { class: 'heatmap', 'aria-label': 'CPU reference as a heatmap' });
  replace(
    byId('kernel-body'),
    h(
      'p',
      {},
      h('span', { class: `pill ${check.pass ? 'pass' : 'fail'}`, id: 'kernel-status', 'data-status': check.pass ? 'pass' : 'fail' },
        check.pass ? 'PASS' : 'FAIL'),
      ` matmul_forward on ${check.backend === 'webgpu' ? 'WebGPU' : 'the CPU (WebAssembly)'}: `,
      `(${check.n}×${check.c}) · (${check.oc}×${check.c})ᵀ + b, largest |difference| from the CPU reference `,
      h('strong', { id: 'kernel-diff' }, check.maxAbsDiff.toExponential(2)),
      ` (tolerance 1e-4), ${check.millis.toFixed(1)} ms including upload and readback.`,
    ),
    h(
      'div',
      { class: 'pair' },
      h('figure', {}, canvasOut, h('figcaption', {}, `kernel output (${check.n} × ${check.oc})`)),
      h('figure', {}, canvasRef, h('figcaption', {}, 'CPU reference')),
    ),
  );
  drawHeatmap(canvasOut, check.out, check.n, check.oc);
  drawHeatmap(canvasRef, check.reference, check.n, check.oc);
}

async function runCheck(backend: Backend): Promise<void> {
  replace(byId('kernel-body'), `Running the kernel on ${backend === 'webgpu' ? 'WebGPU' : 'the CPU'}…`);
  const check = await core.call('matmulCheck', backend);
  window.tpKernelCheck = check;
  showCheck(check);
}

async function start(): Promise<void> {
  const report = await core.call('adapter');
  window.tpAdapter = report;
  showAdapter(report);
  let backend: Backend = report.available ? 'webgpu' : 'cpu';
  if (backend === 'webgpu') {
    setBadge('webgpu', 'WebGPU', report.isFallback ? 'WebGPU on a software adapter' : 'WebGPU on a hardware GPU');
    try {
      await runCheck('webgpu');
      return;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      byId('backend-body').append(h('p', { class: 'notice' }, `WebGPU failed (${message}); using the CPU path.`));
      backend = 'cpu';
    }
  }
  setBadge('cpu', 'CPU (WebAssembly)', report.reason ?? 'WebGPU is unavailable');
  await runCheck('cpu');
}

start().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  setBadge('error', 'error', message);
  replace(byId('kernel-body'), h('p', { class: 'notice' }, `Something went wrong: ${message}`));
});
