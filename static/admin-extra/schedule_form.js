// Schedule form: show the fields the chosen frequency uses (Daily: time; Weekly: time and
// day; Custom: the cron expression). Without JavaScript every field shows and the server
// decides the same way.
(function () {
  "use strict";

  function row(name) {
    const field = document.getElementById("id_" + name);
    return field ? field.closest(".form-row, .fieldBox") : null;
  }

  function show(name, visible) {
    const element = row(name);
    if (element) {
      element.style.display = visible ? "" : "none";
    }
  }

  function update() {
    const frequency = document.getElementById("id_frequency").value;
    show("at", frequency !== "custom");
    show("weekday", frequency === "weekly");
    show("cron", frequency === "custom");
  }

  document.addEventListener("DOMContentLoaded", function () {
    const frequency = document.getElementById("id_frequency");
    if (frequency) {
      frequency.addEventListener("change", update);
      update();
    }
  });
})();
