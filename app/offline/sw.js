// Omnichannel Academy's service worker: the modules a learner saved for offline, read from
// the network first and from the saved copy when there is none.
//
// VERSION changes with the course content and with this platform's scripts: a new version
// fetches every saved page and file again (keeping the old copy of any it cannot reach) and
// drops the caches of earlier versions.
"use strict";

const VERSION = "__VERSION__";
const CACHE = "academy-offline-" + VERSION;
const PREFIX = "academy-offline-";

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = (await caches.keys()).filter((name) => name.startsWith(PREFIX) && name !== CACHE);
    if (names.length) {
      const fresh = await caches.open(CACHE);
      for (const name of names) {
        const old = await caches.open(name);
        for (const request of await old.keys()) {
          if (await fresh.match(request)) continue;
          try {
            const response = await fetch(request.url, { credentials: "same-origin" });
            await fresh.put(request.url, response.ok ? response : await old.match(request));
          } catch (e) {
            await fresh.put(request.url, await old.match(request));
          }
        }
        await caches.delete(name);
      }
    }
    await self.clients.claim();
  })());
});

// The page asks: save these URLs (a module's page, quiz, audio, PDF and what they load).
self.addEventListener("message", (event) => {
  const data = event.data || {};
  const port = event.ports && event.ports[0];
  if (data.type === "save" && Array.isArray(data.urls)) {
    event.waitUntil(save(data.urls).then(
      (count) => port && port.postMessage({ ok: true, count, version: VERSION }),
      (error) => port && port.postMessage({ ok: false, error: String(error) }),
    ));
  } else if (data.type === "saved" && port) {
    event.waitUntil(caches.open(CACHE).then((cache) => cache.match(data.url)).then(
      (found) => port.postMessage({ saved: !!found, version: VERSION })));
  }
});

async function save(urls) {
  const cache = await caches.open(CACHE);
  const own = urls.map((url) => new URL(url, self.location.origin))
    .filter((url) => url.origin === self.location.origin);
  for (const url of own) {
    const response = await fetch(url.href, { credentials: "same-origin", cache: "no-cache" });
    if (!response.ok) throw new Error(url.pathname + ": HTTP " + response.status);
    await cache.put(url.href, response);
  }
  return own.length;
}

// A saved file answered as a range (206), as a media element asks for audio.
async function ranged(request, response) {
  const header = request.headers.get("range");
  const match = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return response;
  const body = await response.blob();
  const size = body.size;
  let start = match[1] === "" ? size - Number(match[2]) : Number(match[1]);
  let end = match[1] === "" || match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  start = Math.max(0, start);
  if (start > end || start >= size) {
    return new Response(null, { status: 416, headers: { "Content-Range": "bytes */" + size } });
  }
  const headers = new Headers(response.headers);
  headers.set("Content-Range", `bytes ${start}-${end}/${size}`);
  headers.set("Content-Length", String(end - start + 1));
  return new Response(body.slice(start, end + 1), { status: 206, statusText: "Partial Content", headers });
}

async function fromCache(request) {
  const cache = await caches.open(CACHE);
  const found = (await cache.match(request.url)) ||
    (request.mode === "navigate" ? await cache.match(request.url, { ignoreSearch: true }) : undefined);
  if (!found) return Response.error();
  return ranged(request, found);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  if (new URL(request.url).pathname === "/sw.js") return;
  // The network first: online, a learner always gets the current page and their own progress.
  event.respondWith(fetch(request).catch(() => fromCache(request)));
});
