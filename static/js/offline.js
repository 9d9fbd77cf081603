// Offline: "save this module for offline" (the service worker keeps its page, quiz, audio and
// PDF), and an outbox in IndexedDB for the progress a learner makes without a network. Every
// progress event gets a statement id (a UUID) when it happens; the server stores an id once,
// so an event sent twice (a flush interrupted, two tabs) still counts once.
(function () {
  "use strict";

  const DB_NAME = "academy-offline";
  const STORE = "outbox";
  const FLAG = "academy.offline.saved"; // this device keeps modules: keep the worker updated
  const panel = document.querySelector("[data-offline-panel]");
  const label = (name) => (panel && panel.dataset["label" + name]) || "";

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  // IndexedDB ------------------------------------------------------------------------------
  let opening = null;
  function database() {
    if (!("indexedDB" in window)) return Promise.reject(new Error("no IndexedDB"));
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id" });
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => { opening = null; reject(request.error); };
      });
    }
    return opening;
  }

  function withStore(mode, work) {
    return database().then((db) => new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
    }));
  }

  const put = (entry) => withStore("readwrite", (store) => store.put(entry));
  const remove = (id) => withStore("readwrite", (store) => store.delete(id));
  const pending = () => withStore("readonly", (store) => store.getAll());

  // Sending ----------------------------------------------------------------------------------
  const csrf = () => (window.AcademyCsrf ? window.AcademyCsrf() : Promise.resolve(""));

  function freshToken() {
    // A token kept in a saved page may belong to a session that has ended.
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) meta.setAttribute("content", "");
    return csrf();
  }

  function post(entry, token) {
    if (entry.kind === "form") {
      const body = new URLSearchParams(entry.body);
      body.set("csrf_token", token);
      return fetch(entry.url, { method: "POST", credentials: "same-origin", body,
                                headers: { "X-CSRFToken": token } });
    }
    return fetch(entry.url, {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(entry.body),
    });
  }

  // Sends one entry; resolves to the response when the server answered for good (stored, or
  // refused as wrong), rejects when it must be tried again later (no network, server error).
  function deliver(entry) {
    const attempt = (token) => post(entry, token).then((response) => {
      if (response.status >= 500) throw new Error("HTTP " + response.status);
      return response;
    });
    return csrf().then(attempt).then((response) => {
      if (response.status !== 400 || entry.retried) return response;
      // Perhaps a stale token: once more with this session's token.
      entry.retried = true;
      return freshToken().then(attempt);
    });
  }

  let flushing = null;
  const listeners = [];

  let again = false;

  function flush() {
    if (flushing) { again = true; return flushing; }
    if (!navigator.onLine) return Promise.resolve(0);
    const run = () => pending().then(async (entries) => {
      entries.sort((a, b) => a.created - b.created);
      let sent = 0;
      for (const entry of entries) {
        let response;
        try {
          response = await deliver(entry);
        } catch (e) {
          break; // still offline, or the server is down: the rest waits for the next try
        }
        await remove(entry.id);
        sent += 1;
        listeners.forEach((listener) => listener(entry, response));
      }
      showQueue();
      return sent;
    });
    const locked = navigator.locks ? () => navigator.locks.request("academy-outbox", run) : run;
    flushing = locked().catch(() => 0).finally(() => {
      flushing = null;
      if (again) { again = false; flush(); } // an event queued while this flush ran
    });
    return flushing;
  }

  // Queue an event and try to send it now. Resolves to the server's JSON answer when it went
  // out at once, or null when it waits in the outbox.
  function send(url, payload) {
    const entry = { id: uuid(), kind: "json", url, created: Date.now(),
                    body: Object.assign({}, payload) };
    entry.body.id = entry.id;
    entry.body.timestamp = new Date().toISOString();
    return put(entry).then(() => new Promise((resolve) => {
      const mine = (sent, response) => {
        if (sent.id !== entry.id) return;
        listeners.splice(listeners.indexOf(mine), 1);
        resolve(response.ok ? response.json().catch(() => null) : null);
      };
      listeners.push(mine);
      flush().then(() => {
        if (listeners.includes(mine)) { listeners.splice(listeners.indexOf(mine), 1); showQueue(); resolve(null); }
      });
    }), () => fetch(url, { // no IndexedDB (private mode in some browsers): send directly
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(entry.body),
    }).then((r) => (r.ok ? r.json() : null)).catch(() => null));
  }

  window.AcademyOffline = { send, flush, pending: () => pending().catch(() => []) };

  // What the learner sees --------------------------------------------------------------------
  const queueNote = document.querySelector("[data-offline-queue]");
  function showQueue() {
    if (!queueNote) return;
    pending().then((entries) => {
      queueNote.hidden = entries.length === 0;
      queueNote.textContent = entries.length ? label("Queued") : "";
    }).catch(() => {});
  }

  // The quiz, answered offline: the answers wait in the outbox and are graded on the server
  // once the network is back (the form's signed attempt state makes a second copy a no-op).
  const form = document.querySelector("form.quiz-form");
  const quizNote = document.querySelector("[data-offline-quiz]");
  if (form) {
    // On the document, so the quiz's own check (questions left blank) has had its say first.
    document.addEventListener("submit", (event) => {
      if (event.target !== form || event.defaultPrevented || navigator.onLine) return;
      event.preventDefault();
      const body = Array.from(new FormData(form).entries()).map(([k, v]) => [k, String(v)]);
      put({ id: uuid(), kind: "form", url: form.action, created: Date.now(), body }).then(() => {
        if (quizNote) { quizNote.hidden = false; quizNote.textContent = quizNote.dataset.labelQueued; }
      });
    });
  }
  listeners.push((entry, response) => {
    if (entry.kind !== "form" || !quizNote || !response.ok) return;
    quizNote.hidden = false;
    quizNote.textContent = quizNote.dataset.labelSent + " ";
    const link = document.createElement("a");
    link.href = response.url;
    link.textContent = quizNote.dataset.labelResult;
    link.setAttribute("data-offline-result", "");
    quizNote.append(link);
  });

  // Saving a module -------------------------------------------------------------------------
  const canSave = "serviceWorker" in navigator && "caches" in window;

  function worker() {
    return navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(() => navigator.serviceWorker.ready).then((registration) => registration.active);
  }

  function ask(active, message) {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (event) => resolve(event.data);
      active.postMessage(message, [channel.port2]);
    });
  }

  const own = (value) => {
    if (!value) return null;
    const url = new URL(value, location.href);
    return url.origin === location.origin ? url.pathname + url.search : null;
  };

  function assetsOf(html) {
    const found = [];
    html.replace(/(?:href|src)="(\/static\/[^"]+)"/g, (_m, url) => found.push(url.replace(/&amp;/g, "&")));
    return found;
  }

  async function moduleUrls() {
    const urls = new Set([location.pathname]);
    const add = (value) => { const url = own(value); if (url) urls.add(url); };
    document.querySelectorAll("link[rel=stylesheet], link[rel=icon], link[rel=manifest]").forEach((l) => add(l.getAttribute("href")));
    document.querySelectorAll("script[src], img[src]").forEach((e) => add(e.getAttribute("src")));
    document.querySelectorAll("[data-audio-player] li[data-src]").forEach((li) => { add(li.dataset.src); add(li.dataset.vtt); });
    document.querySelectorAll("track[src]").forEach((t) => add(t.getAttribute("src")));
    if (panel) panel.querySelectorAll("[data-offline-page]").forEach((a) => add(a.getAttribute("href")));
    document.querySelectorAll('[data-pdf-download="module"]').forEach((a) => add(a.getAttribute("href")));
    // The quiz and transcript pages load their own styles and scripts.
    for (const page of panel ? panel.querySelectorAll("[data-offline-page]") : []) {
      const response = await fetch(page.getAttribute("href"), { credentials: "same-origin" });
      if (response.ok) assetsOf(await response.text()).forEach(add);
    }
    return Array.from(urls);
  }

  function status(text) {
    const note = panel && panel.querySelector("[data-offline-status]");
    if (note) note.textContent = text;
  }

  if (panel) {
    const button = panel.querySelector("[data-offline-save]");
    if (!canSave) {
      button.disabled = true;
      status(label("Unsupported"));
    } else {
      button.addEventListener("click", () => {
        button.disabled = true;
        status(label("Saving"));
        Promise.all([worker(), moduleUrls()])
          .then(([active, urls]) => ask(active, { type: "save", urls }))
          .then((answer) => {
            if (!answer || !answer.ok) throw new Error(answer ? answer.error : "no answer");
            try { localStorage.setItem(FLAG, "1"); } catch (e) { /* storage off */ }
            panel.setAttribute("data-offline-saved", answer.version);
            status(label("Saved"));
          })
          .catch(() => status(label("Failed")))
          .finally(() => { button.disabled = false; });
      });
    }
  }

  function start() {
    let keeps = false;
    try { keeps = !!localStorage.getItem(FLAG); } catch (e) { /* storage off */ }
    if (canSave && (keeps || navigator.serviceWorker.controller)) {
      // Checks for a new version (content or scripts changed) on every visit.
      worker().then((active) => {
        if (!panel || !active) return;
        return ask(active, { type: "saved", url: location.href.split("#")[0] }).then((answer) => {
          if (answer && answer.saved) {
            panel.setAttribute("data-offline-saved", answer.version);
            status(label("Saved"));
          }
        });
      }).catch(() => {});
    }
    showQueue();
    flush();
  }

  window.addEventListener("online", () => flush());
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
