// The course page's player: listening to the whole-course MP3 counts as listening to each
// module's sections. The page lists where each section is in the file and the progress URL
// of its module; every 10 s of listening, at each section's end, on pause and when the page
// is left, the section being heard gets an "audio-progressed" report (as the module player
// sends), through app.js (and its offline outbox).
(function () {
  "use strict";

  const root = document.querySelector("[data-course-audio]");
  const audio = root && root.querySelector("audio[data-course-audio-player]");
  if (!audio || !window.AcademyProgress) return;

  const REPORT_EVERY = 10; // seconds of listening between two reports, as the module player
  const sections = [];
  root.querySelectorAll("[data-course-module][data-progress-url]").forEach((item) => {
    let marks = [];
    try {
      marks = JSON.parse(item.dataset.sections || "[]");
    } catch (error) {
      return;
    }
    for (const [id, start, end] of marks) {
      if (end > start) sections.push({ url: item.dataset.progressUrl, id, start, end });
    }
  });
  if (!sections.length) return;

  let current = null; // the section being heard
  let listened = 0; // seconds of it heard since its last report
  let lastPosition = null;
  const round = (seconds) => Math.round(seconds * 10) / 10;
  const sectionAt = (t) => sections.find((s) => t >= s.start && t < s.end) || null;

  function report(section, t) {
    if (!section || listened <= 0) return;
    const length = section.end - section.start;
    const heard = Math.min(listened, length);
    listened = 0;
    window.AcademyProgress.send(
      {
        verb: "audio-progressed",
        section: section.id,
        position: round(Math.min(Math.max(t - section.start, 0), length)),
        listened: round(heard),
        duration: round(length),
      },
      section.url,
    );
  }

  audio.addEventListener("timeupdate", () => {
    const t = audio.currentTime;
    if (lastPosition !== null && !audio.paused && !audio.seeking) {
      const delta = t - lastPosition;
      // A jump (seek) is not listening; a normal step is at most a second or two of playback.
      if (delta > 0 && delta < 2 * Math.max(1, audio.playbackRate)) listened += delta;
    }
    lastPosition = t;
    const section = sectionAt(t);
    if (section !== current) {
      report(current, current ? current.end : t); // the end of a section: what was heard of it
      current = section;
    } else if (listened >= REPORT_EVERY) {
      report(current, t);
    }
  });
  audio.addEventListener("seeking", () => {
    report(current, lastPosition === null ? audio.currentTime : lastPosition);
    lastPosition = null;
  });
  audio.addEventListener("pause", () => report(current, audio.currentTime));
  audio.addEventListener("ended", () => report(current, audio.duration));
  window.addEventListener("pagehide", () => report(current, audio.currentTime));
})();
