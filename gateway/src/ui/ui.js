// The gateway's pages: delete buttons (confirmed, then the page reloads), a family's series
// shown under its row on demand, and groups that were open kept open across reloads.
'use strict';

document.addEventListener('click', (ev) => {
  const button = ev.target.closest('button[data-url]');
  if (button) {
    // The group's button sits in its <summary>: keep the click from opening the group.
    ev.preventDefault();
    if (!button.disabled && confirm(button.dataset.confirm)) send(button);
    return;
  }
  const family = ev.target.closest('a.fam');
  if (family && ev.button === 0 && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey) {
    ev.preventDefault();
    toggleSeries(family);
  }
});

async function send(button) {
  button.disabled = true;
  try {
    const resp = await fetch(button.dataset.url, { method: button.dataset.method });
    if (!resp.ok) throw new Error(`${resp.status} ${(await resp.text()).trim()}`);
    location.reload();
  } catch (e) {
    button.disabled = false;
    alert(`Deleting failed: ${e.message}`);
  }
}

async function toggleSeries(link) {
  const row = link.closest('tr');
  const next = row.nextElementSibling;
  if (next && next.classList.contains('series')) {
    next.hidden = !next.hidden;
    return;
  }
  const shown = document.createElement('tr');
  shown.className = 'series';
  const cell = shown.insertCell();
  cell.colSpan = row.cells.length;
  const pre = document.createElement('pre');
  pre.textContent = 'loading…';
  cell.append(pre);
  row.after(shown);
  try {
    const resp = await fetch(link.href);
    pre.textContent = resp.ok ? await resp.text() : 'Gone since the page was loaded: reload it.';
  } catch (e) {
    pre.textContent = `Failed: ${e.message}`;
  }
}

const OPEN_KEY = 'nodegate-open-groups';
let open;
try {
  open = new Set(JSON.parse(sessionStorage.getItem(OPEN_KEY) || '[]'));
} catch (e) {
  open = new Set();
}
for (const id of open) {
  const group = document.getElementById(id);
  if (group) group.open = true;
}
// `toggle` does not bubble: listen while it is captured.
document.addEventListener('toggle', (ev) => {
  const group = ev.target;
  if (!(group instanceof HTMLDetailsElement) || !group.classList.contains('group')) return;
  if (group.open) open.add(group.id);
  else open.delete(group.id);
  sessionStorage.setItem(OPEN_KEY, JSON.stringify([...open]));
}, true);
