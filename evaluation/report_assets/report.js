// report.html's samples: one page of rows at a time from the embedded JSON; sort, filter, search, enlarge frames.
(function () {
  "use strict";
  const rows = JSON.parse(document.getElementById("rows").textContent);
  const config = JSON.parse(document.getElementById("config").textContent);
  const $ = (id) => document.getElementById(id);
  const state = { order: "file", model: config.primary || config.models[0], errorsOnly: false, query: "",
                  page: 0, pageSize: 50 };
  const THUMB_HEIGHT = 160;  // px: large enough to read; click to enlarge
  const percent = (value) => (value === null || value === undefined ? "n/a" : (100 * value).toFixed(1));

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function searchText(row) {
    if (row._text === undefined) {
      const parts = [row.id, row.video || "", ...row.refs];
      for (const answer of row.answers) parts.push(answer.text || "", answer.error || "");
      row._text = parts.join("\n").toLowerCase();
    }
    return row._text;
  }

  function score(row) {
    const answer = row.answers.find((a) => a.model === state.model);
    return answer && answer.cider !== null && answer.cider !== undefined ? answer.cider : null;
  }

  function selected() {
    const words = state.query.toLowerCase().split(/\s+/).filter(Boolean);
    let list = rows.filter((row) => (!state.errorsOnly || row.error) &&
                                    words.every((word) => searchText(row).includes(word)));
    if (state.order !== "file") {
      const sign = state.order === "worst" ? 1 : -1;
      list = list.slice().sort((a, b) => {
        const x = score(a), y = score(b);
        if (x === null || y === null) return (x === null) - (y === null) || a.n - b.n;  // unscored last
        return sign * (x - y) || a.n - b.n;
      });
    }
    return list;
  }

  // A strip's frames one by one (each a window onto the same image), wrapping to the width; a strip saved without
  // its frame count (evaluation.frames.strip_layout) is shown whole, scrolling sideways.
  function framesNode(row, height) {
    const box = element("div", "frames");
    const link = element("a", row.layout ? "tiles" : "");
    link.href = row.frames;
    link.target = "_blank";
    const count = row.layout ? row.layout[0] : 1;
    const width = row.layout ? (height * row.layout[1]) / row.layout[2] : null;
    for (let i = 0; i < count; i++) {
      const img = element("img");
      img.loading = "lazy";
      img.alt = row.layout ? `frame ${i + 1} of ${count} the model saw` : "frames the model saw";
      img.src = row.frames;
      img.style.height = height + "px";
      if (!row.layout) {
        link.append(img);
        continue;
      }
      const tile = element("span", "tile");
      tile.style.width = width + "px";
      tile.style.height = height + "px";
      img.style.width = count * width + "px";
      img.style.marginLeft = -i * width + "px";
      tile.append(img);
      link.append(tile);
    }
    box.append(link);
    return box;
  }

  function answerNode(answer) {
    const p = element("p", "answer");
    p.dataset.model = answer.model;
    p.append(element("span", "model", answer.model + " "));
    if (answer.error !== null && answer.error !== undefined) {
      p.append(element("span", "error", "ERROR: " + answer.error));
      return p;
    }
    const badge = element("span", "score", "CIDEr-D " + percent(answer.cider) + " · BLEU-4 " + percent(answer.bleu_4));
    badge.dataset.cider = answer.cider === null ? "" : String(answer.cider);
    p.append(badge, " ", document.createTextNode(answer.text === "" ? "(empty)" : answer.text));
    for (const flag of answer.flags) p.append(" ", element("span", "flag", "[" + flag + "]"));
    return p;
  }

  function rowNode(row) {
    const node = element("div", "sample" + (row.error ? " errored" : ""));
    node.dataset.id = row.id;
    node.row = row;
    node.id = "sample-" + row.n;
    const head = element("div", "head");
    const anchor = element("a", "n", "#" + row.n);
    anchor.href = "#" + node.id;
    anchor.title = "link to this sample";
    head.append(anchor, element("span", "id", row.id));
    if (row.video) head.append(element("span", "video", row.video));
    node.append(head);
    if (row.frames) node.append(framesNode(row, THUMB_HEIGHT));
    const refs = element("div", "captions references");
    refs.append(element("h3", "", row.refs.length === 1 ? "reference" : row.refs.length + " references"));
    const list = element("ol");
    for (const ref of row.refs) list.append(element("li", "", ref));
    refs.append(list);
    const answers = element("div", "captions answers");
    answers.append(element("h3", "", "answers"));
    for (const answer of row.answers) answers.append(answerNode(answer));
    node.append(refs, answers);
    return node;
  }

  function render() {
    const list = selected();
    const pages = Math.max(1, Math.ceil(list.length / state.pageSize));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * state.pageSize;
    const shown = list.slice(start, start + state.pageSize);
    $("samples").replaceChildren(...shown.map(rowNode));
    const range = shown.length ? `${start + 1}–${start + shown.length}` : "0";
    const matching = list.length === rows.length ? "" : ` (${list.length.toLocaleString("en")} match)`;
    $("count").textContent = `samples ${range} of ${rows.length.toLocaleString("en")}${matching}` +
      ` · page ${state.page + 1} of ${pages}`;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    for (const order of ["file", "worst", "best"]) $("order-" + order).classList.toggle("on", state.order === order);
  }

  function update(change) {
    Object.assign(state, change);
    render();
  }

  for (const model of config.models) $("score-model").append(new Option(model, model, false, model === state.model));
  $("score-model").parentElement.hidden = config.models.length < 2;
  for (const order of ["file", "worst", "best"]) $("order-" + order).onclick = () => update({ order, page: 0 });
  $("score-model").onchange = (event) => update({ model: event.target.value, page: 0 });
  $("errors-only").onchange = (event) => update({ errorsOnly: event.target.checked, page: 0 });
  $("search").oninput = (event) => update({ query: event.target.value, page: 0 });
  $("page-size").onchange = (event) => update({ pageSize: Number(event.target.value), page: 0 });
  $("prev").onclick = () => update({ page: state.page - 1 });
  $("next").onclick = () => update({ page: state.page + 1 });

  // Export: the rows that match the filters and search, in the shown order, as a file made in the page (offline).
  const MODEL_FIELDS = ["text", "error", "cider", "bleu_4"];
  function exportRecord(row) {
    return { n: row.n, id: row.id, video: row.video, references: row.refs, error: row.error,
             answers: row.answers.map((a) => ({ model: a.model, text: a.text, error: a.error, flags: a.flags,
                                               cider: a.cider, bleu_4: a.bleu_4 })) };
  }
  function csvCell(value) {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function toCsv(list) {
    const header = ["n", "id", "video", "references", "error"];
    for (const model of config.models) for (const field of MODEL_FIELDS) header.push(model + "_" + field);
    const lines = [header.map(csvCell).join(",")];
    for (const row of list) {
      const cells = [row.n, row.id, row.video, row.refs.join(" | "), row.error];
      for (const model of config.models) {
        const answer = row.answers.find((a) => a.model === model) || {};
        for (const field of MODEL_FIELDS) cells.push(answer[field]);
      }
      lines.push(cells.map(csvCell).join(","));
    }
    return lines.join("\r\n") + "\r\n";
  }
  function download(name, type, text) {
    const link = element("a");
    link.href = URL.createObjectURL(new Blob([text], { type }));
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 0);
  }
  $("export-csv").onclick = () => download("samples.csv", "text/csv", toCsv(selected()));
  $("export-jsonl").onclick = () => download("samples.jsonl", "application/x-ndjson",
    selected().map((row) => JSON.stringify(exportRecord(row)) + "\n").join(""));

  // A link to a sample (#sample-N): show its page in test-set order, unfiltered, and scroll to it.
  function showLinked() {
    const match = /^#sample-(\d+)$/.exec(location.hash);
    if (!match) return;
    const index = rows.findIndex((row) => row.n === Number(match[1]));
    if (index < 0) return;
    $("errors-only").checked = false;
    $("search").value = "";
    update({ order: "file", errorsOnly: false, query: "", page: Math.floor(index / state.pageSize) });
    document.getElementById(location.hash.slice(1))?.scrollIntoView();
  }
  window.addEventListener("hashchange", showLinked);

  const lightbox = $("lightbox");
  const TILE_GAP = 3;  // px, as .frames .tiles' gap in report.css

  // Twice the size the model saw (at least 320 px high), but no larger than lets every frame of the strip fit the
  // window at once: the best of every column count (a grid), so 8 frames at 1280x800 show as 3 columns of 3 rows.
  function enlargedHeight(row, img) {
    const natural = row.layout ? row.layout[2] : img.naturalHeight;
    const wanted = Math.max(2 * natural, 320);
    const style = getComputedStyle(lightbox);
    const link = $("lightbox-open");
    const width = lightbox.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 1;
    const height = lightbox.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom) -
      link.offsetHeight - parseFloat(getComputedStyle(link).marginBottom) - 1;
    if (!row.layout) return Math.max(1, Math.min(height, wanted));  // one strip, scrolling sideways
    const [count, frameWidth, frameHeight] = row.layout;
    let best = 1;
    for (let columns = 1; columns <= count; columns++) {
      const rows = Math.ceil(count / columns);
      const byWidth = ((width - (columns - 1) * TILE_GAP) / columns) * (frameHeight / frameWidth);
      const byHeight = (height - (rows - 1) * TILE_GAP) / rows;
      best = Math.max(best, Math.floor(Math.min(byWidth, byHeight)));
    }
    return Math.min(best, wanted);
  }
  $("samples").addEventListener("click", (event) => {
    const img = event.target.closest(".frames img");
    if (!img) return;
    event.preventDefault();
    const row = img.closest(".sample").row;
    lightbox.querySelector(".frames")?.remove();
    $("lightbox-open").href = row.frames;
    lightbox.hidden = false;  // shown first: the room for the frames is measured on it
    lightbox.append(framesNode(row, enlargedHeight(row, img)));
  });
  lightbox.addEventListener("click", (event) => {
    if (event.target.id === "lightbox-open") return;  // opens the image file
    event.preventDefault();
    lightbox.hidden = true;
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") lightbox.hidden = true; });
  render();
  showLinked();
})();
