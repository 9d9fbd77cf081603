// The module's audio player: chapters, ±10 s, speed, continuous play, keyboard shortcuts,
// read-along (the sentence being spoken is highlighted; a click plays from it), and
// "audio-progressed" reports to the progress service when the page offers its URL.
(function () {
  "use strict";

  const root = document.querySelector("[data-audio-player]");
  const audio = root && root.querySelector("audio[data-audio]");
  if (!audio) return;

  const $ = (selector) => root.querySelector(selector);
  const items = Array.from(root.querySelectorAll("li[data-chapter][data-src]"));
  const playButton = $("[data-audio-play]");
  const seek = $("[data-audio-seek]");
  const timeLabel = $("[data-audio-time]");
  const titleLabel = $("[data-audio-title]");
  const speed = $("[data-audio-speed]");
  const readalong = $("[data-audio-readalong]");
  const progressUrl = root.dataset.progressUrl || "";
  // app.js hands out the CSRF token (fetching one for a first-time visitor's cached page).
  const csrfToken = () => (window.AcademyCsrf ? window.AcademyCsrf() : Promise.resolve(""));
  const RATES = [0.75, 1, 1.25, 1.5, 1.75, 2];
  const REPORT_EVERY = 10; // seconds of listening between two progress reports

  let current = -1;
  let cues = [];
  let cueIndex = -1;
  let listened = 0; // seconds heard in the current section since the last report
  let lastPosition = null;
  const cueCache = new Map();

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds || 0));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function duration() {
    if (Number.isFinite(audio.duration) && audio.duration > 0) return audio.duration;
    return current >= 0 ? parseFloat(items[current].dataset.duration) || 0 : 0;
  }

  // WebVTT -> [{start, end, text}]: our files have one cue per sentence.
  function parseVtt(text) {
    const stamp = (value) => {
      const parts = value.trim().split(":").map(parseFloat);
      return parts.reduce((total, part) => total * 60 + part, 0);
    };
    const unescape = (value) =>
      value.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    const out = [];
    for (const block of text.replace(/\r/g, "").split(/\n\n+/)) {
      const lines = block.split("\n");
      const at = lines.findIndex((line) => line.includes("-->"));
      if (at < 0) continue;
      const [start, end] = lines[at].split("-->");
      out.push({ start: stamp(start), end: stamp(end.split(" ").filter(Boolean)[0]),
                 text: unescape(lines.slice(at + 1).join(" ")) });
    }
    return out;
  }

  function loadCues(index) {
    const url = items[index].dataset.vtt;
    if (!cueCache.has(url)) {
      cueCache.set(url, fetch(url, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : ""))
        .then(parseVtt)
        .catch(() => []));
    }
    return cueCache.get(url);
  }

  // In-text read-along: the sentence being spoken is also highlighted in the module's own
  // text (CSS Custom Highlight API; browsers without it keep the panel's read-along).
  const canHighlight = !!(window.CSS && CSS.highlights && window.Highlight);
  let ranges = [];

  function chapterElement(index) {
    const id = items[index].dataset.chapter;
    if (index === 0 && !document.getElementById(id)) return document.querySelector("article.module");
    return document.getElementById(id);
  }

  function textMap(element) {
    // The element's text with runs of white space collapsed, and where each character lives.
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    const map = [];
    let text = "";
    let space = true;
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const value = node.nodeValue;
      for (let i = 0; i < value.length; i++) {
        const blank = /\s/.test(value[i]);
        if (blank && space) continue;
        text += blank ? " " : value[i];
        map.push([node, i]);
        space = blank;
      }
    }
    return { text, map };
  }

  function locate(index, list) {
    ranges = [];
    const element = canHighlight ? chapterElement(index) : null;
    if (!element) return;
    const { text, map } = textMap(element);
    let from = 0;
    ranges = list.map((cue) => {
      const wanted = cue.text.replace(/\s+/g, " ").trim();
      const at = wanted ? text.indexOf(wanted, from) : -1;
      if (at < 0) return null; // announced by the narration only ("Table.", "Tip.")
      from = at + wanted.length;
      const range = document.createRange();
      range.setStart(map[at][0], map[at][1]);
      const last = map[at + wanted.length - 1];
      range.setEnd(last[0], last[1] + 1);
      return range;
    });
  }

  function highlightText(index) {
    if (!canHighlight) return;
    const range = index >= 0 ? ranges[index] : null;
    if (!range) {
      CSS.highlights.delete("audio-reading");
      return;
    }
    CSS.highlights.set("audio-reading", new Highlight(range));
    const box = range.getBoundingClientRect();
    if (!audio.paused && box.height && (box.top < 0 || box.bottom > window.innerHeight)) {
      // Follow the voice down the page, as a finger follows the line.
      const parent = range.startContainer.parentElement;
      if (parent) parent.scrollIntoView({ block: "center", behavior: motion() });
    }
  }

  // Smooth scrolling, unless the learner asked the system for less motion.
  const lessMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
  const motion = () => (lessMotion && lessMotion.matches ? "auto" : "smooth");

  function renderReadalong(list) {
    readalong.replaceChildren();
    list.forEach((cue, i) => {
      const sentence = document.createElement("span");
      sentence.className = "audio-sentence";
      sentence.textContent = cue.text;
      sentence.dataset.index = String(i);
      sentence.setAttribute("role", "button");
      // One tab stop for the whole read-along; the arrow keys move between its sentences.
      sentence.tabIndex = i === 0 ? 0 : -1;
      readalong.append(sentence, " ");
    });
    cueIndex = -1;
    highlight();
  }

  // Only while the voice is speaking: a loaded but unplayed (or paused) section lights nothing
  // up, so the page does not open with its title highlighted.
  function highlight() {
    const t = audio.currentTime;
    let found = -1;
    for (let i = 0; i < (audio.paused ? 0 : cues.length); i++) {
      if (t >= cues[i].start - 0.05 && t < (cues[i + 1] ? cues[i + 1].start : Infinity)) {
        found = i;
        break;
      }
    }
    if (found === cueIndex) return;
    highlightText(found);
    const old = readalong.querySelector(".audio-sentence.is-current");
    if (old) old.classList.remove("is-current");
    cueIndex = found;
    const now = found >= 0 ? readalong.querySelector(`[data-index="${found}"]`) : null;
    if (now) {
      now.classList.add("is-current");
      // Scroll inside the read-along box only: the page itself must not jump. While the
      // learner's focus is in the box, it stays where they put it.
      const top = now.offsetTop - readalong.offsetTop;
      if (!readalong.contains(document.activeElement) && top < readalong.scrollTop || top > readalong.scrollTop + readalong.clientHeight - now.offsetHeight) {
        readalong.scrollTop = Math.max(0, top - readalong.clientHeight / 3);
      }
    }
  }

  function report() {
    if (!progressUrl || current < 0) return;
    const heard = listened;
    listened = 0;
    if (heard <= 0 && !audio.ended && !audio.paused) return;
    const body = JSON.stringify({
      verb: "audio-progressed",
      section: items[current].dataset.chapter,
      position: Math.round(audio.currentTime * 10) / 10,
      listened: Math.round(heard * 10) / 10,
      duration: Math.round(duration() * 10) / 10,
    });
    if (window.AcademyProgress) {
      // app.js sends it, through the offline outbox when there is no network.
      window.AcademyProgress.send(JSON.parse(body), progressUrl);
      return;
    }
    // Without app.js: a statement id of our own, so a retried copy is stored once.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const id = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
    csrfToken()
      .then((csrf) =>
        fetch(progressUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify(Object.assign({ id }, JSON.parse(body))),
          credentials: "same-origin",
          keepalive: true,
        }),
      )
      .catch(() => {}); // progress is best effort: listening never stops on a failed report
  }

  function showTime() {
    const total = duration();
    timeLabel.textContent = clock(audio.currentTime) + " / " + clock(total);
    seek.max = String(total || 0);
    if (!seek.matches(":active")) seek.value = String(audio.currentTime || 0);
  }

  // Captions: the <track> follows the chapter being played. A new element per chapter, as a
  // track's source cannot be changed once it has loaded.
  function captionsFor(index) {
    const old = audio.querySelector("track[data-audio-track]");
    const url = items[index].dataset.vtt;
    if (!old || old.getAttribute("src") === url) {
      if (old) old.track.mode = "showing";
      return;
    }
    const track = old.cloneNode(false);
    track.src = url;
    old.replaceWith(track);
    track.track.mode = "showing";
  }

  function select(index, options) {
    const opts = options || {};
    if (index < 0 || index >= items.length) return;
    if (index !== current) {
      if (current >= 0 && listened > 0) report();
      current = index;
      lastPosition = null;
      items.forEach((item, i) => item.toggleAttribute("aria-current", i === index));
      const item = items[index];
      titleLabel.textContent = item.dataset.title || "";
      if (engaged) { describeSession(); syncMini(); }
      audio.src = item.dataset.src;
      captionsFor(index);
      cues = [];
      ranges = [];
      renderReadalong(cues);
      loadCues(index).then((list) => {
        if (current === index) {
          cues = list;
          locate(index, list);
          renderReadalong(list);
        }
      });
    }
    const start = () => {
      if (opts.position) audio.currentTime = opts.position;
      if (opts.play) audio.play().catch(() => {});
      showTime();
    };
    if (opts.position && audio.readyState < 1) {
      audio.preload = "metadata";
      audio.addEventListener("loadedmetadata", start, { once: true });
      if (opts.play) audio.play().catch(() => {});
      else audio.load();
    } else {
      start();
    }
    showTime();
  }

  function toggle() {
    if (current < 0) select(0);
    if (audio.paused) audio.play().catch(() => {});
    else audio.pause();
  }

  function skip(seconds) {
    if (current < 0) return;
    audio.currentTime = Math.min(Math.max(0, audio.currentTime + seconds), duration() || Infinity);
  }

  function setRate(rate) {
    audio.playbackRate = rate;
    audio.defaultPlaybackRate = rate;
    speed.value = String(rate);
    try { localStorage.setItem("academy.audio.rate", String(rate)); } catch (e) { /* private mode */ }
  }

  function step(direction) {
    const now = RATES.indexOf(parseFloat(speed.value));
    setRate(RATES[Math.min(RATES.length - 1, Math.max(0, (now < 0 ? 1 : now) + direction))]);
  }

  // Media Session: lock-screen and headset controls, with the chapter's title and artwork.
  const session = "mediaSession" in navigator ? navigator.mediaSession : null;

  function describeSession() {
    if (!session || current < 0 || !window.MediaMetadata) return;
    session.metadata = new MediaMetadata({
      title: items[current].dataset.title || "",
      artist: root.dataset.mediaArtist || "",
      album: root.dataset.mediaAlbum || "",
      artwork: root.dataset.mediaArtwork
        ? [{ src: root.dataset.mediaArtwork, sizes: "512x512", type: "image/png" }] : [],
    });
  }

  function sessionPosition() {
    const total = duration();
    if (!session || !session.setPositionState || !total) return;
    try {
      session.setPositionState({ duration: total, playbackRate: audio.playbackRate,
                                 position: Math.min(audio.currentTime, total) });
    } catch (e) { /* a position past the end while the next chapter loads */ }
  }

  if (session) {
    const actions = {
      play: () => audio.play().catch(() => {}),
      pause: () => audio.pause(),
      previoustrack: () => select(Math.max(0, current - 1), { play: !audio.paused }),
      nexttrack: () => select(current + 1, { play: !audio.paused }),
      seekbackward: (details) => skip(-((details && details.seekOffset) || 10)),
      seekforward: (details) => skip((details && details.seekOffset) || 10),
      seekto: (details) => { if (details && Number.isFinite(details.seekTime)) audio.currentTime = details.seekTime; },
    };
    Object.entries(actions).forEach(([action, handler]) => {
      try { session.setActionHandler(action, handler); } catch (e) { /* not offered here */ }
    });
  }

  // Mini-player: while the learner listens and the full controls are out of sight (scrolled
  // away with the text), a small bar keeps play/pause and next chapter in view.
  const mini = $("[data-audio-mini]");
  const controls = $(".audio-controls");
  let engaged = false; // the learner has pressed play at least once
  let controlsInSight = true;

  function showMini() {
    if (!mini) return;
    const wanted = engaged && !controlsInSight;
    if (mini.hidden === !wanted) return;
    if (!wanted && mini.contains(document.activeElement)) playButton.focus({ preventScroll: true });
    mini.hidden = !wanted;
    document.documentElement.classList.toggle("has-audio-mini", wanted);
  }

  if (mini && controls && "IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      controlsInSight = entries[entries.length - 1].intersectionRatio > 0.9;
      showMini();
    }, { threshold: [0, 0.9, 1] }).observe(controls);
    mini.querySelector("[data-audio-mini-play]").addEventListener("click", toggle);
    mini.querySelector("[data-audio-mini-next]").addEventListener("click", () => select(current + 1, { play: !audio.paused }));
    mini.querySelector("[data-audio-mini-show]").addEventListener("click", () => {
      root.scrollIntoView({ block: "nearest", behavior: motion() });
      playButton.focus({ preventScroll: true });
    });
  }

  function syncMini() {
    if (!mini) return;
    const label = audio.paused ? playButton.dataset.labelPlay : playButton.dataset.labelPause;
    const button = mini.querySelector("[data-audio-mini-play]");
    button.textContent = audio.paused ? "▶" : "‖";
    button.setAttribute("aria-label", label);
    button.title = label + " (K)";
    mini.querySelector("[data-audio-mini-title]").textContent = current >= 0 ? items[current].dataset.title || "" : "";
  }

  // Controls -----------------------------------------------------------------------------
  playButton.addEventListener("click", toggle);
  $("[data-audio-back]").addEventListener("click", () => skip(-10));
  $("[data-audio-forward]").addEventListener("click", () => skip(10));
  $("[data-audio-prev]").addEventListener("click", () => select(Math.max(0, current - 1), { play: !audio.paused }));
  $("[data-audio-next]").addEventListener("click", () => select(current + 1, { play: !audio.paused }));
  speed.addEventListener("change", () => setRate(parseFloat(speed.value) || 1));
  seek.addEventListener("input", () => { audio.currentTime = parseFloat(seek.value) || 0; });
  items.forEach((item, i) => {
    item.querySelector("[data-audio-chapter]").addEventListener("click", () => select(i, { play: true }));
  });
  const playCue = (target) => {
    const sentence = target.closest(".audio-sentence");
    if (!sentence || !cues[+sentence.dataset.index]) return;
    audio.currentTime = cues[+sentence.dataset.index].start;
    audio.play().catch(() => {});
  };
  readalong.addEventListener("click", (event) => playCue(event.target));
  readalong.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      playCue(event.target);
      return;
    }
    const sentences = Array.from(readalong.querySelectorAll(".audio-sentence"));
    const at = sentences.indexOf(event.target);
    const moves = { ArrowDown: at + 1, ArrowRight: at + 1, ArrowUp: at - 1, ArrowLeft: at - 1,
                    Home: 0, End: sentences.length - 1 };
    if (at < 0 || !(event.key in moves)) return;
    event.preventDefault();
    const next = sentences[Math.min(sentences.length - 1, Math.max(0, moves[event.key]))];
    sentences.forEach((sentence) => { sentence.tabIndex = sentence === next ? 0 : -1; });
    next.focus();
  });

  // The element's events ------------------------------------------------------------------
  audio.addEventListener("play", () => {
    playButton.textContent = "‖";
    playButton.setAttribute("aria-label", playButton.dataset.labelPause);
    playButton.title = playButton.dataset.labelPause + " (K)";
    root.classList.add("is-playing");
    engaged = true;
    syncMini();
    showMini();
    describeSession();
    if (session) session.playbackState = "playing";
    // The section being heard opens on the page, so its text can be followed.
    const element = current >= 0 ? chapterElement(current) : null;
    if (element && element.tagName === "DETAILS" && !element.open) {
      element.open = true;
      locate(current, cues);
      cueIndex = -1;
      highlight();
    }
  });
  audio.addEventListener("pause", () => {
    playButton.textContent = "▶";
    playButton.setAttribute("aria-label", playButton.dataset.labelPlay);
    playButton.title = playButton.dataset.labelPlay + " (K)";
    root.classList.remove("is-playing");
    highlight();
    syncMini();
    if (session) session.playbackState = "paused";
    if (!audio.ended) report();
  });
  audio.addEventListener("timeupdate", () => {
    const t = audio.currentTime;
    if (lastPosition !== null && !audio.paused && !audio.seeking) {
      const delta = t - lastPosition;
      // Only real listening counts: a jump (seek, ±10 s) is not time heard.
      if (delta > 0 && delta < 2 * Math.max(1, audio.playbackRate)) listened += delta;
    }
    lastPosition = t;
    if (listened >= REPORT_EVERY) report();
    if (!audio.paused && Math.floor(t) !== Math.floor(t - 0.3)) sessionPosition();
    showTime();
    highlight();
  });
  audio.addEventListener("seeking", () => { lastPosition = null; });
  audio.addEventListener("loadedmetadata", () => { showTime(); sessionPosition(); });
  audio.addEventListener("ended", () => {
    report();
    // Continuous play: on to the next section that has audio.
    if (current + 1 < items.length) select(current + 1, { play: true });
  });
  window.addEventListener("pagehide", () => { if (listened > 0) report(); });

  // Keyboard shortcuts, anywhere on the page except where the learner types.
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const actions = {
      k: toggle, j: () => skip(-10), l: () => skip(10),
      n: () => select(current + 1, { play: !audio.paused }),
      p: () => select(Math.max(0, current - 1), { play: !audio.paused }),
      "<": () => step(-1), ">": () => step(1),
    };
    const action = actions[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  // Start: where the learner left off, or at the first chapter, without playing.
  let rate = 1;
  try { rate = parseFloat(localStorage.getItem("academy.audio.rate")) || 1; } catch (e) { /* none */ }
  setRate(RATES.includes(rate) ? rate : 1);
  const resumeAt = items.findIndex((item) => item.dataset.chapter === root.dataset.resumeSection);
  if (resumeAt >= 0) {
    select(resumeAt, { position: parseFloat(root.dataset.resumePosition) || 0 });
  } else if (items.length) {
    select(0);
  }
  root.classList.add("is-ready");
})();
