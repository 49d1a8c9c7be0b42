// The Backend panel: the WebGPU adapter (or why there is none) and the kernel check: one linear layer computed
// by the WGSL kernel and compared with the CPU reference.
import { h, replace } from '../dom';
import { type Ctx, type Panel, intro } from '../ctx';
import { drawHeatmap } from '../heatmap';
import { formatBytes } from '../format';
import type { AdapterReport, Backend, KernelCheck } from '../protocol';

declare global {
  interface Window {
    /** The last kernel check, for tests and the curious (open the console). */
    tpKernelCheck?: KernelCheck;
    tpAdapter?: AdapterReport;
  }
}

function showAdapter(body: HTMLElement, report: AdapterReport): void {
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
  const name = [report.name, report.vendor, report.driver, report.backend].filter(Boolean).join(' · ');
  const rows: [string, string][] = [
    ['Adapter', name || '(the browser does not name it)'],
    [
      'Kind',
      report.isFallback ? 'software fallback: correct, but on this machine the CPU path may be faster' : 'hardware GPU',
    ],
  ];
  const limits = report.limits;
  rows.push(['Largest storage binding', formatBytes(limits.maxStorageBufferBindingSize)]);
  rows.push(['Storage buffers per stage', String(limits.maxStorageBuffersPerShaderStage)]);
  rows.push(['Workgroup memory', formatBytes(limits.maxComputeWorkgroupStorageSize)]);
  rows.push(['Invocations per workgroup', String(limits.maxComputeInvocationsPerWorkgroup)]);
  rows.push(['Features', report.features.join(', ') || 'none']);
  replace(
    body,
    h('table', { class: 'facts', id: 'adapter-table' }, ...rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v)))),
  );
}

function showCheck(body: HTMLElement, check: KernelCheck, adapter: AdapterReport | null): void {
  const gpu = check.backend === 'webgpu';
  const canvasOut = h('canvas', { class: 'heatmap small', role: 'img', 'aria-label': 'kernel output as a heatmap' });
  const canvasRef = h('canvas', { class: 'heatmap small', role: 'img', 'aria-label': 'CPU reference as a heatmap' });
  // What was compared with what, in words: on the CPU that is the model's fast kernel against the readable
  // reference loops, and no GPU was checked.
  const compared = gpu
    ? 'the WGSL kernel matmul_forward on WebGPU against the CPU reference (matmul_forward_cpu)'
    : 'the CPU kernel the model runs here (matmul_forward_fast_cpu: blocked, WebAssembly SIMD) against the readable CPU reference (matmul_forward_cpu)';
  const noGpu = gpu
    ? null
    : h(
        'p',
        { class: 'notice', id: 'kernel-no-gpu' },
        adapter?.available
          ? 'No GPU kernel was checked: the model runs on the CPU. Choose WebGPU in the menu at the top to check the GPU.'
          : `No GPU kernel was checked: there is no WebGPU here (${(adapter && !adapter.available ? adapter.reason : check.reason) ?? 'unavailable'}).`,
      );
  replace(
    body,
    h(
      'p',
      { id: 'kernel-summary' },
      h(
        'span',
        { class: `pill ${check.pass ? 'pass' : 'fail'}`, id: 'kernel-status', 'data-status': check.pass ? 'pass' : 'fail' },
        check.pass ? 'PASS' : 'FAIL',
      ),
      ` Compared ${compared}: `,
      `(${check.n}×${check.c}) · (${check.oc}×${check.c})ᵀ + b, largest |difference| `,
      h('strong', { id: 'kernel-diff' }, check.maxAbsDiff.toExponential(2)),
      check.maxAbsDiff === 0
        ? ' (the two agree to the last bit here; tolerance 1e-4, since kernels that add in another order differ in the last bits)'
        : ' (tolerance 1e-4: the two add in different orders, so differences in the last bits are expected)',
      `, ${check.millis.toFixed(1)} ms${gpu ? ' including upload and readback' : ''}.`,
    ),
    noGpu,
    h(
      'div',
      { class: 'pair' },
      h('figure', {}, canvasOut, h('figcaption', {}, `${check.kernel} output (${check.n} × ${check.oc})`)),
      h('figure', {}, canvasRef, h('figcaption', {}, 'CPU reference (matmul_forward_cpu)')),
    ),
  );
  drawHeatmap(canvasOut, check.out, check.n, check.oc);
  drawHeatmap(canvasRef, check.reference, check.n, check.oc);
}

export const backendPanel: Panel = {
  id: 'backend',
  title: 'Backend',
  mount(section: HTMLElement, ctx: Ctx) {
    const adapterBody = h('div', { id: 'backend-body', 'aria-live': 'polite' }, 'Looking for a WebGPU adapter…');
    const kernelBody = h('div', { id: 'kernel-body', 'aria-live': 'polite' }, 'Waiting for the backend…');
    section.append(
      ...intro(
        'Backend',
        'Every layer of the model runs as a WGSL compute shader on WebGPU. Where WebGPU is missing, the same Rust ' +
          'code runs on the CPU as WebAssembly. The badge at the top says which one is in use and why; the menu ' +
          'beside it switches.',
      ),
      h('h3', {}, 'Adapter'),
      adapterBody,
      h('h3', {}, 'Kernel check'),
      h(
        'p',
        { class: 'explain' },
        'A linear layer, computed by the kernel the model runs on (the WGSL kernel on WebGPU, the fast CPU kernel otherwise) and compared with the readable CPU reference, on an awkward shape that no tile divides.',
      ),
      h('p', { class: 'formula' }, 'out = inp · Wᵀ + b'),
      kernelBody,
    );
    const run = async (backend: Backend) => {
      replace(kernelBody, `Running the kernel on ${backend === 'webgpu' ? 'WebGPU' : 'the CPU'}…`);
      try {
        const check = await ctx.core.call('matmulCheck', backend);
        window.tpKernelCheck = check;
        showCheck(kernelBody, check, ctx.store.adapter);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        replace(kernelBody, h('p', { class: 'notice', role: 'alert' }, `The kernel check failed on ${backend}: ${message}`));
        throw error;
      }
    };
    backendHooks.showAdapter = (report) => showAdapter(adapterBody, report);
    backendHooks.runCheck = run;
  },
};

/** Filled in when the panel mounts; main.ts drives the start-up sequence through them. */
export const backendHooks: {
  showAdapter: (report: AdapterReport) => void;
  runCheck: (backend: Backend) => Promise<void>;
} = {
  showAdapter: () => undefined,
  runCheck: async () => undefined,
};
