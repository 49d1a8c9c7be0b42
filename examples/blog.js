// The example page's own script: the form drives the widgets through their attributes.
const text = document.getElementById('try-text');
const choice = document.getElementById('try-tokenizer');
const views = [document.getElementById('char-view'), document.getElementById('bpe-view')];

text.addEventListener('input', () => {
  for (const view of views) view.setAttribute('text', text.value);
});
choice.addEventListener('change', () => views[1].setAttribute('tokenizer', choice.value));
document.getElementById('try-form').addEventListener('submit', (event) => event.preventDefault());

for (const view of document.querySelectorAll('token-view, attention-map, transformer-playground')) {
  view.addEventListener('error', (event) => console.warn(`<${view.localName} id=${view.id}>: ${event.detail.message}`));
}
