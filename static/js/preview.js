// The preview server's page script (`flask content serve --watch` only): one Server-Sent Events
// stream per page; the page reloads when a course file is saved, and the checker's errors are
// shown over it at file:line. No polling: the server pushes each change.
(function () {
  const script = document.currentScript || document.querySelector("script[data-preview-events]");
  if (!script || !window.EventSource) return;
  const pageVersion = Number(script.dataset.version);
  let panel = null;

  function show(problems) {
    if (!panel) {
      panel = document.createElement("aside");
      panel.className = "preview-problems";
      panel.setAttribute("role", "alert");
      panel.dataset.previewProblems = "";
      document.body.prepend(panel);
    }
    panel.replaceChildren();
    panel.hidden = problems.length === 0;
    if (!problems.length) return;
    const title = document.createElement("h2");
    title.textContent = script.dataset.title;
    const list = document.createElement("ul");
    for (const problem of problems) {
      const item = document.createElement("li");
      const where = document.createElement("code");
      where.textContent = problem.where;
      item.append(where, `: ${problem.message}`);
      list.append(item);
    }
    panel.append(title, list);
  }

  const source = new EventSource(script.dataset.previewEvents);
  source.addEventListener("state", (event) => {
    const state = JSON.parse(event.data);
    // Saved between this page's rendering and the stream's opening: reload now.
    if (state.version !== pageVersion) { window.location.reload(); return; }
    show(state.problems);
    document.documentElement.dataset.previewConnected = String(state.version);
  });
  source.addEventListener("change", () => {
    source.close();
    window.location.reload();
  });
})();
