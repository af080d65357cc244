// Lifecycle buttons: ask in a dialog, then send confirm=yes. Without JavaScript the server
// shows its own confirmation page instead, so the confirmation never depends on this file.
"use strict";
document.querySelectorAll("form.action").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    form.querySelector("input[name=confirm]").value = "yes";
  });
});
