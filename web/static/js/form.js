// The experiment form's live helpers: the unit picker, the preview of every arm and the
// sample-size calculator. Both helpers post the form (with its CSRF token) to JSON endpoints
// that run the server's own validation; results are inserted with textContent only.
"use strict";
(() => {
  const form = document.getElementById("experiment-form");
  if (!form) return;
  const template = document.getElementById("f-template");
  const previewList = document.getElementById("preview");
  const previewStatus = document.getElementById("preview-status");
  const armsField = document.getElementById("ss-arms");

  async function post(url) {
    const response = await fetch(url, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    return response.json();
  }

  function item(text, className) {
    const li = document.createElement("li");
    li.textContent = text;
    if (className) li.className = className;
    return li;
  }

  async function refreshPreview() {
    const answer = await post(form.dataset.previewUrl);
    previewList.replaceChildren();
    const problems = Object.entries(answer.errors || {});
    previewStatus.textContent = problems.length
      ? problems.map(([field, messages]) => `${field || "form"}: ${messages.join("; ")}`).join("\n")
      : `${answer.arms.length} arms`;
    previewStatus.className = problems.length ? "field-error" : "";
    for (const arm of answer.arms) {
      const li = item("", "arm");
      const key = document.createElement("code");
      key.textContent = arm.key;
      const text = document.createElement("span");
      text.className = "script";
      text.textContent = arm.text;
      li.append(key, " ", text);
      previewList.append(li);
    }
    if (answer.arms.length && armsField) armsField.value = String(answer.arms.length);
  }

  async function estimate() {
    const answer = await post(form.dataset.sampleSizeUrl);
    document.querySelectorAll("#sample-size .field-error").forEach((span) => {
      span.textContent = "";
    });
    // Errors come keyed by field id (ss-baseline...); each field's slot is error-<id>.
    for (const [field, messages] of Object.entries(answer.errors || {})) {
      const span = document.getElementById(`error-${field}`);
      if (span) span.textContent = messages.join("; ");
    }
    document.getElementById("estimate-result").textContent = answer.message || "";
  }

  document.getElementById("insert-unit").addEventListener("click", () => {
    const slot = `{${document.getElementById("unit-picker").value}}`;
    const at = template.selectionStart ?? template.value.length;
    template.setRangeText(slot, at, template.selectionEnd ?? at, "end");
    template.focus();
    refreshPreview();
  });
  document.getElementById("refresh-preview").addEventListener("click", refreshPreview);
  document.getElementById("estimate").addEventListener("click", estimate);
  let timer;
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 400);
  });
  form.addEventListener("change", refreshPreview);
  document.documentElement.classList.add("js");
  refreshPreview();
})();
