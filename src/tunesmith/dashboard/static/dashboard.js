// The live dashboard: polls /api/study?name=<name> and redraws. Every value from the server is put
// into the page with textContent (never innerHTML), so study names, parameters and reasons
// cannot inject markup.
(function () {
  "use strict";
  var body = document.body;
  var refresh = Math.max(0.2, parseFloat(body.getAttribute("data-refresh")) || 2) * 1000;
  var figureNames = (body.getAttribute("data-figures") || "").split(",").filter(Boolean);
  var query = new URLSearchParams(window.location.search);
  var current = query.get("study") || body.getAttribute("data-study") || null;
  var drawn = {};
  var polls = 0;
  var firstTrials = null;
  var shownTrials = null;
  var timer = null;
  var listed = null;  // the study names the select holds, to rebuild it only when the storage's list changed
  var STATE_COLOURS = {
    complete: "#4c78a8", stopped: "#9ca3af", failed: "#e45756", infeasible: "#f58518", running: "#54a24b",
    paused: "#72b7b2"
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined) { return "-"; }
    if (typeof value !== "number") { return String(value); }
    if (Number.isInteger(value)) { return String(value); }
    var size = Math.abs(value);
    if (size !== 0 && (size < 1e-3 || size >= 1e5)) { return value.toExponential(2); }
    return String(Number(value.toPrecision(4)));
  }

  function seconds(value) {
    if (value === null || value === undefined) { return "-"; }
    if (value < 120) { return value.toFixed(value < 10 ? 1 : 0) + "s"; }
    if (value < 3 * 3600) { return (value / 60).toFixed(1) + "min"; }
    return (value / 3600).toFixed(1) + "h";
  }

  function params(values) {
    return Object.keys(values || {}).map(function (k) { return k + "=" + fmt(values[k]); }).join(", ");
  }

  function getJSON(url) {
    return fetch(url, { cache: "no-store" }).then(function (response) {
      return response.json().then(function (payload) {
        if (!response.ok) { throw new Error(payload.error || ("HTTP " + response.status)); }
        return payload;
      });
    });
  }

  function message(text) {
    var node = $("ts-message");
    node.hidden = !text;
    node.textContent = text || "";
  }

  function fillStudies(listing) {
    // Read on every poll, so a study created while the page is open is listed; the selection stays.
    var select = $("ts-study-select");
    if (!current) { current = listing["default"]; }
    var names = JSON.stringify(listing.studies.map(function (study) { return study.name; }));
    if (names === listed && select.value === (current || "")) { return; }  // rebuilding would close an open list
    listed = names;
    select.replaceChildren();
    listing.studies.forEach(function (study) {
      var option = el("option", study.name);
      option.value = study.name;
      option.selected = study.name === current;
      select.appendChild(option);
    });
  }

  function renderBudget(data) {
    var parts = [];
    var usage = data.usage;
    var budget = data.budget;
    if (budget.trials !== null) { parts.push("trials " + usage.trials + "/" + budget.trials); }
    if (budget.wall_seconds !== null) { parts.push("wall time " + seconds(usage.elapsed) + "/" + seconds(budget.wall_seconds)); }
    if (budget.compute_seconds !== null) { parts.push("compute " + seconds(usage.compute) + "/" + seconds(budget.compute_seconds)); }
    if (budget.resource !== null) { parts.push("resource " + fmt(usage.resource) + "/" + fmt(budget.resource)); }
    if (budget.until_converged) { parts.push("or until converged"); }
    var spent = Math.round(100 * data.fraction_spent);
    $("ts-budget-bar").style.width = spent + "%";
    $("ts-budget-text").textContent = (parts.join(" · ") || "unbounded budget") + " (" + spent + "% spent)" +
      (data.exhausted ? ": " + data.exhausted : "") + (data.converged ? "; " + data.converged : "");
  }

  function renderStates(data) {
    var count = $("ts-trial-count");
    count.textContent = String(data.trials);
    count.setAttribute("data-count", String(data.trials));
    var box = $("ts-states");
    box.replaceChildren();
    Object.keys(data.states).sort().forEach(function (state) {
      var chip = el("span", state + " " + data.states[state], "chip");
      chip.style.borderColor = STATE_COLOURS[state] || "#9ca3af";
      box.appendChild(chip);
    });
    if (data.gone) {  // RUNNING in storage, but their workers are gone: the next worker reaps them
      var gone = el("span", data.gone + " running with the worker gone", "chip");
      gone.id = "ts-gone";
      gone.style.borderColor = "#dc2626";
      box.appendChild(gone);
    }
  }

  function renderFront(data) {
    var table = $("ts-best-params");
    var names = data.front.objectives.map(function (m) { return m.name; });
    $("ts-best-value").textContent = data.front.trials.length ?
      "Pareto front: " + data.front.trials.length + " trials (" + names.join(", ") + ")" +
        (data.front.chosen === null ? "" : "; * chosen: trial " + data.front.chosen) +
        (data.front.off_front ? "; " + data.front.off_front : "") +
        // what `tunesmith best` and status say under the front
        (data.front.few_trained ? "; " + data.front.few_trained : "") +
        (data.front.near_front ? "; " + data.front.near_front : "") +
        (data.failed ? "; " + data.failed : "") :
      data.no_feasible || "no complete trial with every objective yet";
    var head = el("tr");
    ["#"].concat(names, ["parameters"]).forEach(function (title) { head.appendChild(el("th", title)); });
    table.appendChild(head);
    data.front.trials.forEach(function (trial) {
      var row = el("tr");
      row.appendChild(el("td", (trial.number === data.front.chosen ? "* " : "") + trial.number));
      names.forEach(function (name) {  // with its standard error, as the other views show it
        row.appendChild(el("td", trial.texts ? trial.texts[name] : fmt(trial.values[name])));
      });
      row.appendChild(el("td", params(trial.params)));
      table.appendChild(row);
    });
  }

  function renderBest(data) {
    var table = $("ts-best-params");
    table.replaceChildren();
    if (data.front) {
      renderFront(data);
      return;
    }
    if (!data.best) {
      $("ts-best-value").textContent = data.no_feasible || "no complete trial yet";
      return;
    }
    $("ts-best-value").textContent = data.metric.name + " = " + (data.best.text || fmt(data.best.value)) + " (" +
      data.metric.direction + ") at trial " + data.best.number +
      (data.best.label || "") +
      (data.best.note ? "; " + data.best.note : "") +
      (data.failed ? "; " + data.failed : "");  // as status says it under its heading
    Object.keys(data.best.params).forEach(function (key) {
      var row = el("tr");
      row.appendChild(el("th", key));
      row.appendChild(el("td", fmt(data.best.params[key])));
      table.appendChild(row);
    });
  }

  function renderVerdict(data) {
    // The verdict finalize recorded (as `tunesmith status --json` gives it): the best above is not ready to use
    // until it says so, and a stale one no longer judges the study as it stands.
    var node = $("ts-verdict");
    var verdict = data.verdict;
    node.hidden = !verdict;
    node.className = verdict && verdict.ready && !verdict.stale ? "ok" : "warn";
    node.textContent = !verdict ? "" : "verdict" + (verdict.trial === null ? "" : " on trial " + verdict.trial) +
      ": " + verdict.status + ", " +
      // as the headline reads: "not ready" only on a decided failure, else the evidence could not show it ready
      (verdict.ready ? "ready" : verdict.status === "fail" ? "not ready" : "not shown ready") +
      (verdict.stale ? "; " + verdict.stale : "");
  }

  function renderLatest(data) {
    var table = $("ts-latest");
    table.replaceChildren();
    var head = el("tr");
    ["#", "state", data.metric.name, "resource", "duration", "parameters", "reason"].forEach(function (title) {
      head.appendChild(el("th", title));
    });
    table.appendChild(head);
    data.latest.forEach(function (trial) {
      var row = el("tr");
      row.setAttribute("data-number", String(trial.number));
      row.appendChild(el("td", trial.number));
      var invalid = trial.invalidated !== null && trial.invalidated !== undefined;
      var gone = trial.worker_gone !== null && trial.worker_gone !== undefined;
      var state = el("td", (invalid ? trial.state + ", invalidated" : trial.state) + (gone ? " (worker gone)" : ""));
      state.style.color = STATE_COLOURS[trial.state] || "inherit";
      row.appendChild(state);
      if (invalid) { row.className = "invalidated"; }
      row.appendChild(el("td", fmt(trial.value)));
      row.appendChild(el("td", fmt(trial.resource)));
      row.appendChild(el("td", trial.duration === null ? "-" : seconds(trial.duration)));
      row.appendChild(el("td", params(trial.params)));
      row.appendChild(el("td", gone ? trial.worker_gone :
        invalid ? "invalidated: " + trial.invalidated : trial.reason || ""));
      table.appendChild(row);
    });
  }

  function chartFor(name) {
    // A chart the page lacks (a study with several objectives draws its front): added above the others.
    if ($("ts-chart-" + name)) { return; }
    var section = el("section");
    var chart = el("div", null, "ts-chart");
    chart.id = "ts-chart-" + name;
    section.appendChild(chart);
    var first = $("ts-chart-" + figureNames[0]).parentNode;
    first.parentNode.insertBefore(section, first);
  }

  function renderFigures(data) {
    Object.keys(data.figures).forEach(function (name) {
      if (figureNames.indexOf(name) < 0) { chartFor(name); }
    });
    return Object.keys(data.figures).map(function (name) {
      var figure = data.figures[name];
      var text = JSON.stringify(figure);
      if (!figure || drawn[name] === current + "\n" + text) { return Promise.resolve(); }
      drawn[name] = current + "\n" + text;
      var layout = figure.layout || {};
      layout.uirevision = current;  // keeps zoom and legend choices across redraws
      return Plotly.react("ts-chart-" + name, figure.data || [], layout, { displaylogo: false, responsive: true });
    });
  }

  function updateStatus() {
    var charts = document.querySelectorAll(".ts-chart");
    var rendered = 0;
    charts.forEach(function (chart) {
      if (chart.classList.contains("js-plotly-plot") && chart.querySelector(".main-svg") && chart._fullData) {
        rendered += 1;
      }
    });
    var status = $("ts-status");
    status.setAttribute("data-expected", String(charts.length));
    status.setAttribute("data-rendered", String(rendered));
    status.setAttribute("data-errors", JSON.stringify(window.__tsErrors));
    status.setAttribute("data-polls", String(polls));
    status.setAttribute("data-trials", shownTrials === null ? "" : String(shownTrials));
    status.setAttribute("data-first-trials", firstTrials === null ? "" : String(firstTrials));
    status.setAttribute("data-done", polls > 0 ? "1" : "0");
    status.className = window.__tsErrors.length || rendered < charts.length ? "warn" : "ok";
    status.textContent = rendered + " of " + charts.length + " charts drawn, " + window.__tsErrors.length +
      " errors, " + polls + " updates";
  }

  function render(data) {
    $("ts-study-name").textContent = data.name;
    document.title = "tunesmith · " + data.name;
    renderBudget(data);
    renderStates(data);
    renderBest(data);
    renderVerdict(data);
    renderLatest(data);
    return Promise.allSettled(renderFigures(data)).then(function (results) {
      results.forEach(function (r) {
        if (r.status === "rejected") { window.__tsErrors.push("plot: " + r.reason); }
      });
      shownTrials = data.trials;
      if (firstTrials === null) { firstTrials = data.trials; }
      polls += 1;
      message("");
      $("ts-updated").textContent = "updated " + new Date().toLocaleTimeString() + " · every " +
        (refresh / 1000) + "s";
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, refresh);
  }

  function poll() {
    var read = getJSON("/api/studies").then(function (listing) {
      fillStudies(listing);
      if (!current) {
        message("no studies in this storage yet");
        return null;
      }
      return getJSON("/api/study?name=" + encodeURIComponent(current)).then(render);
    });
    read.catch(function (error) {
      window.__tsErrors.push("read: " + error.message);
      message("could not read the study: " + error.message);
    }).then(function () {
      updateStatus();
      schedule();
    });
  }

  $("ts-study-select").addEventListener("change", function (event) {
    current = event.target.value;
    drawn = {};
    firstTrials = null;
    poll();
  });

  poll();
})();
