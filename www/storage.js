// Saved runs in IndexedDB: the worker's autosave. Two object stores keyed by run id:
// `meta` holds small descriptions (listed without reading any parameters) and `state`
// the binary snapshots (parameters, momentum, chains, generators, curves). At most
// MAX_RUNS runs are kept; saving a new one forgets the oldest.

const DB_NAME = 'rbm-lab';
const DB_VERSION = 1;
export const MAX_RUNS = 3;
const ACTIVE_MS = 10 * 60 * 1000;

let opening = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('storage request failed'));
  });
}

function done(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onabort = () => reject(transaction.error ?? new Error('storage transaction aborted'));
    transaction.onerror = () => reject(transaction.error ?? new Error('storage transaction failed'));
  });
}

function open() {
  if (!opening) {
    if (typeof indexedDB === 'undefined') return Promise.reject(new Error('this browser offers no IndexedDB'));
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', { keyPath: 'id' });
      if (!db.objectStoreNames.contains('state')) db.createObjectStore('state', { keyPath: 'id' });
    };
    opening = request(req).catch((error) => {
      opening = null;
      throw error;
    });
  }
  return opening;
}

/** Descriptions of the saved runs, newest first. */
export async function listRuns() {
  const db = await open();
  const metas = await request(db.transaction('meta').objectStore('meta').getAll());
  return metas.sort((a, b) => b.savedAt - a.savedAt);
}

/**
 * Saves (or replaces) run `meta.id` with its binary `state`, then forgets the oldest
 * runs. A run is only ever replaced by the tab that wrote it (`meta.writer`): when
 * another tab's run has this id (it was restored here too), nothing is written and
 * the answer is 'taken', so the caller saves under a new id instead.
 */
export async function saveRun(meta, state) {
  const db = await open();
  const transaction = db.transaction(['meta', 'state'], 'readwrite');
  const metas = transaction.objectStore('meta');
  let taken = false;
  metas.get(meta.id).onsuccess = (event) => {
    const existing = event.target.result;
    if (existing && existing.writer && existing.writer !== meta.writer) {
      taken = true;
      return;
    }
    metas.put(meta);
    transaction.objectStore('state').put({ id: meta.id, ...state });
  };
  await done(transaction);
  if (taken) return 'taken';
  const runs = await listRuns();
  const old = runs.slice(MAX_RUNS).filter((run) => Date.now() - run.savedAt > ACTIVE_MS);
  if (old.length) {
    const cleanup = db.transaction(['meta', 'state'], 'readwrite');
    for (const run of old) {
      cleanup.objectStore('meta').delete(run.id);
      cleanup.objectStore('state').delete(run.id);
    }
    await done(cleanup);
  }
  return 'saved';
}

/** `{meta, state}` of run `id`, or null. */
export async function loadRun(id) {
  const db = await open();
  const transaction = db.transaction(['meta', 'state']);
  const [meta, state] = await Promise.all([
    request(transaction.objectStore('meta').get(id)),
    request(transaction.objectStore('state').get(id)),
  ]);
  return meta && state ? { meta, state } : null;
}

export async function forgetRun(id) {
  const db = await open();
  const transaction = db.transaction(['meta', 'state'], 'readwrite');
  transaction.objectStore('meta').delete(id);
  transaction.objectStore('state').delete(id);
  await done(transaction);
}
