// The page: the header (backend badge and switch, theme), the panel navigation, and the start-up sequence
// (which backend to use, the stored session).
import { CoreClient } from './client';
import { byId, h } from './dom';
import type { Ctx, Panel } from './ctx';
import { errorMessage } from './format';
import { mountNextStep, mountQuickStart, panelShown } from './guide';
import { Store } from './state';
import * as db from './db';
import type { Backend } from './protocol';
import { backendHooks, backendPanel } from './panels/backend';
import { dataPanel } from './panels/data';
import { tokenizerPanel } from './panels/tokenizer';
import { modelPanel } from './panels/model';
import { embeddingsPanel } from './panels/embeddings';
import { generatePanel } from './panels/generate';
import { trainingPanel } from './panels/training';
import { attentionPanel } from './panels/attention';
import { positionsPanel } from './panels/positions';
import { fillMaskPanel } from './panels/fill-mask';
import { finetunePanel } from './panels/finetune';
import { labPanel } from './panels/lab';
import { seq2seqPanel } from './panels/seq2seq';
import { sessionPanel, restoreModelConfig, restoreSession } from './panels/session';

declare global {
  interface Window {
    /** The page's state, for tests and the curious (open the console). */
    tp?: {
      store: Store;
      ready: boolean;
      showPanel: (id: string) => void;
      /** Fault drills (tests, and anyone curious how the page recovers): 'device' loses the WebGPU device,
       *  'panic' makes the core panic, 'crash' kills the worker. */
      simulateFault: (kind: 'device' | 'panic' | 'crash') => Promise<void>;
    };
  }
}

const PANELS: Panel[] = [
  dataPanel,
  tokenizerPanel,
  modelPanel,
  trainingPanel,
  generatePanel,
  attentionPanel,
  fillMaskPanel,
  finetunePanel,
  seq2seqPanel,
  positionsPanel,
  embeddingsPanel,
  labPanel,
  sessionPanel,
  backendPanel,
];

const core = new CoreClient();
const store = new Store();
const ctx: Ctx = { core, store };

// ---- Theme: follows the system until the person picks one; the choice is remembered.

type Theme = 'system' | 'light' | 'dark';
const THEME_LABEL: Record<Theme, string> = { system: 'follows the system', light: 'light', dark: 'dark' };

function applyTheme(theme: Theme): void {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const button = byId('theme-toggle');
  button.setAttribute('aria-label', `Colour theme: ${THEME_LABEL[theme]}. Press to change (Auto, then dark or light, then back to Auto).`);
  button.textContent = theme === 'dark' ? '☾ Dark' : theme === 'light' ? '☀ Light' : '◐ Auto';
}

function setupTheme(): void {
  let theme = (localStorage.getItem('tp-theme') as Theme | null) ?? 'system';
  applyTheme(theme);
  byId('theme-toggle').addEventListener('click', () => {
    const systemDark = matchMedia('(prefers-color-scheme: dark)').matches;
    // A cycle of three: Auto, then the opposite of what the system shows (so the first press always changes
    // something), then the system's own scheme, then back to Auto.
    const opposite: Theme = systemDark ? 'light' : 'dark';
    theme = theme === 'system' ? opposite : theme === opposite ? (systemDark ? 'dark' : 'light') : 'system';
    if (theme === 'system') localStorage.removeItem('tp-theme');
    else localStorage.setItem('tp-theme', theme);
    applyTheme(theme);
  });
}

// ---- Panels and their tabs (WAI-ARIA tabs: arrow keys move, Home/End jump; the hash names the panel).

const tabs = new Map<string, HTMLButtonElement>();
const sections = new Map<string, HTMLElement>();

function showPanel(id: string, focus = false): void {
  if (!sections.has(id)) id = PANELS[0].id;
  for (const [panelId, tab] of tabs) {
    const selected = panelId === id;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    sections.get(panelId)!.hidden = !selected;
  }
  if (focus) tabs.get(id)!.focus();
  if (location.hash !== `#${id}`) history.replaceState(null, '', `#${id}`);
  shownPanel = id;
  panelShown(id, store);
  sections.get(id)!.dispatchEvent(new Event('panel-shown'));
}
let shownPanel = PANELS[0].id;

/** Opens a panel from a next-step button or the quick start, and moves the focus to its heading. */
function openFromGuide(id: string): void {
  showPanel(id);
  const heading = sections.get(id)?.querySelector('h2');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
  sections.get(id)?.scrollIntoView({ block: 'start' });
}

function setupPanels(): void {
  const tablist = byId('tablist');
  const main = byId('panels');
  for (const panel of PANELS) {
    const tab = h(
      'button',
      { type: 'button', role: 'tab', id: `tab-${panel.id}`, 'aria-controls': `panel-${panel.id}`, 'aria-selected': 'false', tabindex: -1 },
      panel.title,
    );
    tab.addEventListener('click', () => showPanel(panel.id));
    tablist.append(tab);
    tabs.set(panel.id, tab);
    const section = h('section', { role: 'tabpanel', id: `panel-${panel.id}`, 'aria-labelledby': `tab-${panel.id}`, class: 'panel', hidden: true });
    main.append(section);
    sections.set(panel.id, section);
    panel.mount(section, ctx);
    mountNextStep(section, panel.id, store, openFromGuide);
  }
  mountQuickStart(main, store, new Map(PANELS.map((p) => [p.id, p.title])), openFromGuide, () => shownPanel);
  tablist.addEventListener('keydown', (event) => {
    const ids = PANELS.map((p) => p.id);
    const current = ids.findIndex((id) => tabs.get(id) === document.activeElement);
    if (current < 0) return;
    let next = -1;
    if (event.key === 'ArrowDown' || event.key === 'ArrowRight') next = (current + 1) % ids.length;
    else if (event.key === 'ArrowUp' || event.key === 'ArrowLeft') next = (current - 1 + ids.length) % ids.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = ids.length - 1;
    if (next < 0) return;
    event.preventDefault();
    showPanel(ids[next], true);
  });
  window.addEventListener('hashchange', () => showPanel(location.hash.slice(1)));
  showPanel(location.hash.slice(1));
}

// ---- Backend: WebGPU where a real adapter exists, else the CPU; the badge says which and why.

function setBadge(backend: Backend | 'error', label: string, why: string): void {
  const badge = byId('backend-badge');
  badge.dataset.backend = backend;
  badge.textContent = label;
  badge.title = why;
  byId('backend-why').textContent = why;
}

function describe(backend: Backend): [string, string] {
  const report = store.adapter;
  if (backend === 'webgpu') {
    const why = report?.available && report.isFallback
      ? 'WebGPU on a software adapter (no hardware GPU found): correct but slow; the CPU path may be faster here.'
      : 'WebGPU on a hardware GPU.';
    return ['WebGPU', why];
  }
  const why = !report?.available
    ? `CPU (WebAssembly): ${report?.reason ?? 'WebGPU is unavailable'}.`
    : report.isFallback
      ? 'CPU (WebAssembly): WebGPU here is only a software adapter, slower than the CPU path. Choose WebGPU in “Run on” to use it anyway.'
      : 'CPU (WebAssembly), chosen in the menu; WebGPU is available.';
  return ['CPU (WebAssembly)', why];
}

async function chooseBackend(backend: Backend): Promise<void> {
  const [label, why] = describe(backend);
  setBadge(backend, label, why);
  (byId('backend-select') as HTMLSelectElement).value = backend;
  store.set('backend', backend);
  await backendHooks.runCheck(backend);
}

/** A notice above every panel (the worker died and came back), until dismissed. */
function showCrashNotice(text: string): void {
  document.getElementById('crash-notice')?.remove();
  const dismiss = h('button', { type: 'button', id: 'crash-dismiss' }, 'Dismiss');
  const notice = h('p', { id: 'crash-notice', class: 'notice', role: 'alert' }, text, ' ', dismiss);
  dismiss.addEventListener('click', () => notice.remove());
  byId('panels').prepend(notice);
}

async function start(): Promise<void> {
  setupTheme();
  await restoreModelConfig(ctx);
  setupPanels();
  core.onCrash = (reason) => {
    const text = `The core's worker stopped (${reason}). It was restarted; your text, tokenizer and the latest snapshot of the model were loaded back.`;
    byId('backend-why').textContent = text;
    showCrashNotice(text);
  };
  core.onRestart = async () => {
    // A fresh worker knows nothing: give it the current tokenizer and the model's latest kept weights (the
    // last snapshot of a run, or the model as it was when the run ended).
    const tokenizer = store.tokenizer;
    if (tokenizer) await core.call('loadTokenizer', tokenizer.json, store.corpus?.text ?? '').catch(() => undefined);
    const bytes = await db.load<Uint8Array>('model-weights');
    if (!bytes) {
      if (store.modelInfo) store.set('modelInfo', null);
      return;
    }
    try {
      store.set('modelInfo', await core.call('loadModel', bytes));
    } catch {
      store.set('modelInfo', null);
    }
  };
  const report = await core.call('adapter');
  store.adapter = report;
  window.tpAdapter = report;
  backendHooks.showAdapter(report);
  const select = byId('backend-select') as HTMLSelectElement;
  const webgpuOption = select.querySelector('option[value="webgpu"]') as HTMLOptionElement;
  webgpuOption.disabled = !report.available;
  if (!report.available) webgpuOption.textContent = 'WebGPU (unavailable)';
  select.disabled = false;
  select.addEventListener('change', () => {
    chooseBackend(select.value as Backend).catch(() => undefined);
  });
  const restored = restoreSession(ctx);
  // A software adapter (SwiftShader, WARP, lavapipe) is slower than the CPU path: start on the CPU there and say
  // why; the menu still offers WebGPU.
  if (report.available && !report.isFallback) {
    try {
      await chooseBackend('webgpu');
    } catch (error) {
      byId('backend-body').append(h('p', { class: 'notice' }, `WebGPU failed (${errorMessage(error)}); using the CPU path.`));
      webgpuOption.disabled = true;
      await chooseBackend('cpu');
    }
  } else {
    await chooseBackend('cpu');
  }
  await restored;
  window.tp!.ready = true;
  document.documentElement.dataset.ready = 'true';
}

window.tp = {
  store,
  ready: false,
  showPanel: (id: string) => showPanel(id),
  simulateFault: (kind) => core.call('simulateFault', kind),
};
start().catch((error: unknown) => {
  setBadge('error', 'error', errorMessage(error));
  byId('panels').prepend(h('p', { class: 'notice', role: 'alert' }, `Something went wrong: ${errorMessage(error)}`));
});
