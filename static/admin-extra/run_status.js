// Live refresh of the generation run list: while any shown run is queued, running or
// retrying, poll the status endpoint every 2 s and update those rows in place.
(function () {
  "use strict";

  const INTERVAL_MS = 2000;

  function setText(row, column, text) {
    const cell = row.querySelector("td.field-" + column);
    if (cell && cell.textContent !== text) {
      cell.textContent = text;
    }
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function setPost(row, run) {
    const cell = row.querySelector("td.field-post_links");
    if (!cell || !run.post_admin_url || cell.querySelector("a")) {
      return;
    }
    cell.textContent = "";
    cell.appendChild(link(run.post_admin_url, run.post_title));
    if (run.post_url) {
      cell.appendChild(document.createTextNode(" · "));
      const view = link(run.post_url, "view");
      view.target = "_blank";
      cell.appendChild(view);
    }
  }

  // The "posts queued" message names each run; once its post is written, link it there
  // too, with its state (in review until approved, or published), so the first click's result is found.
  function setMessagePost(run) {
    const slot = document.querySelector('.run-post[data-run-post="' + run.id + '"]');
    if (!slot || !run.post_admin_url || slot.querySelector("a")) {
      return;
    }
    slot.append(": post ", link(run.post_admin_url, run.post_title), " (" + run.post_state);
    if (run.post_state === "published" && run.post_url) {
      slot.append(", ", link(run.post_url, "view it"));
    }
    slot.append(")");
  }

  function update(badges, run) {
    const badge = badges.get(String(run.id));
    if (!badge) {
      return;
    }
    badge.className = "run-badge run-badge--" + run.status;
    badge.textContent = run.status_label;
    badge.dataset.runActive = run.active ? "1" : "0";
    const row = badge.closest("tr");
    setText(row, "run_stage", run.stage_label);
    setText(row, "attempt", run.attempt);
    setText(row, "duration", run.duration);
    setText(row, "tokens", run.tokens_label);
    setText(row, "cost", run.cost);
    setText(row, "citations", run.citations);
    setPost(row, run);
    setMessagePost(run);
  }

  // The daily summary above the list: redrawn from the same poll, so it moves with the runs.
  function updateUsage(days) {
    const body = document.querySelector("#usage-by-day tbody");
    if (!body || !days) {
      return;
    }
    const rows = days.map(function (day) {
      const tr = document.createElement("tr");
      [day.day, String(day.runs), day.tokens_label, day.cost].forEach(function (text) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      });
      return tr;
    });
    body.replaceChildren.apply(body, rows);
  }

  function start() {
    const live = document.getElementById("run-live");
    const badges = new Map();
    document.querySelectorAll(".run-badge[data-run-id]").forEach(function (badge) {
      badges.set(badge.dataset.runId, badge);
    });
    const active = Array.from(badges.values()).some(function (b) {
      return b.dataset.runActive === "1";
    });
    if (!live || !active) {
      return;
    }
    const url = live.dataset.statusUrl + "?ids=" + Array.from(badges.keys()).join(",");
    live.hidden = false;
    live.textContent = "Updating live while runs are in flight…";

    function stop(message) {
      live.textContent = message;
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          data.runs.forEach(function (run) {
            update(badges, run);
          });
          updateUsage(data.usage_by_day);
          if (data.active) {
            window.setTimeout(poll, INTERVAL_MS);
          } else {
            stop("All shown runs have finished.");
          }
        })
        .catch(function (error) {
          stop("Live updates stopped (" + error.message + "); reload the page to resume.");
        });
    }

    window.setTimeout(poll, INTERVAL_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
