// The upload page: choose, drop or paste images; each uploads with its own progress bar,
// shows its thumbnails once the worker has made them, then a share link. "Your uploads"
// lives in localStorage. No framework: the page is small enough without one.
"use strict";

(function () {
  const HISTORY_KEY = "sharer.uploads";
  const HISTORY_LIMIT = 100;
  // Status polling: quick at first (thumbnails usually take well under a second), then
  // backing off; bounded so a stuck image does not poll forever.
  const POLL_FIRST_MS = 250;
  const POLL_MAX_MS = 4000;
  const POLL_GIVE_UP_MS = 5 * 60 * 1000;

  const form = document.getElementById("upload-form");
  const input = document.getElementById("file-input");
  const dropZone = document.getElementById("drop-zone");
  const current = document.getElementById("current");
  const uploads = document.getElementById("uploads");
  const history = document.getElementById("history");
  const historyEmpty = document.getElementById("history-empty");
  const announcer = document.getElementById("announcer");
  const maxBytes = Number(form.dataset.maxBytes);

  function sizeText(bytes) {
    if (bytes >= 1048576) return (bytes / 1048576).toPrecision(3).replace(/\.?0+$/, "") + " MiB";
    if (bytes >= 1024) return (bytes / 1024).toPrecision(3).replace(/\.?0+$/, "") + " KiB";
    return bytes + " bytes";
  }

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function announce(text) {
    announcer.textContent = text;
  }

  function shareUrl(id) {
    return new URL("/i/" + encodeURIComponent(id), window.location.origin).href;
  }

  // --- "Your uploads", kept in this browser --------------------------------------------

  function loadHistory() {
    try {
      const entries = JSON.parse(window.localStorage.getItem(HISTORY_KEY) || "[]");
      return Array.isArray(entries) ? entries : [];
    } catch (error) {
      return [];
    }
  }

  function saveHistory(entries) {
    window.localStorage.setItem(HISTORY_KEY, JSON.stringify(entries.slice(0, HISTORY_LIMIT)));
  }

  function remember(entry) {
    saveHistory([entry, ...loadHistory().filter((e) => e.id !== entry.id)]);
    renderHistory();
  }

  function markReady(id) {
    saveHistory(loadHistory().map((e) => (e.id === id ? { ...e, ready: true } : e)));
    renderHistory();
  }

  // No such image (404) or deleted (410): nothing more will come of it.
  function gone(response) {
    return response.status === 404 || response.status === 410;
  }

  // An upload still being made when the page was left: ask once whether it is done.
  async function checkPending(entry) {
    try {
      const response = await fetch("/images/" + encodeURIComponent(entry.id), {
        headers: { Accept: "application/json" },
      });
      if (gone(response)) forget(entry.id);
      else if (response.ok && (await response.json()).status === "ready") markReady(entry.id);
    } catch (error) {
      // Offline: it shows as being prepared until the next visit.
    }
  }

  function forget(id) {
    saveHistory(loadHistory().filter((e) => e.id !== id));
    renderHistory();
  }

  function shareRow(url, label) {
    const row = element("div", { class: "share-row" });
    const field = element("input", { type: "text", readonly: "", value: url, "aria-label": label });
    const copy = element("button", { type: "button", class: "secondary" }, "Copy link");
    copy.addEventListener("click", () => copyLink(field, copy));
    row.append(field, copy);
    return row;
  }

  async function copyLink(field, button) {
    try {
      await navigator.clipboard.writeText(field.value);
    } catch (error) {
      // No clipboard API outside secure contexts: copy the selected text instead.
      field.select();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    announce("Link copied");
    window.setTimeout(() => { button.textContent = "Copy link"; }, 2000);
  }

  function renderHistory() {
    const entries = loadHistory();
    historyEmpty.hidden = entries.length > 0;
    history.replaceChildren(...entries.map(historyCard));
  }

  function historyCard(entry) {
    const card = element("li", { class: "card", "data-image-id": entry.id });
    const thumb = element("div", { class: "thumb" });
    const link = element("a", { href: entry.share });
    if (entry.ready) {
      link.append(element("img", { src: entry.small, alt: "Thumbnail of " + entry.name }));
    } else {
      link.textContent = "Being prepared";
    }
    thumb.append(link);
    const body = element("div");
    body.append(element("p", { class: "name" }, entry.name));
    body.append(shareRow(entry.share, "Share link of " + entry.name));
    if (entry.token) {
      const remove = element("button", { type: "button", class: "danger" }, "Delete");
      remove.setAttribute("aria-label", "Delete " + entry.name + " from the service");
      remove.addEventListener("click", () => deleteImage(entry, card, remove));
      const actions = element("div", { class: "share-row" });
      actions.append(remove);
      body.append(actions);
    }
    card.append(thumb, body);
    return card;
  }

  async function deleteImage(entry, card, button) {
    if (!window.confirm("Delete " + entry.name + "? Its links stop working for everyone.")) return;
    button.disabled = true;
    let response;
    try {
      response = await fetch("/images/" + encodeURIComponent(entry.id), {
        method: "DELETE",
        headers: { Authorization: "Bearer " + entry.token, Accept: "application/json" },
      });
    } catch (error) {
      button.disabled = false;
      announce("Could not reach the server to delete " + entry.name + ": retry later.");
      return;
    }
    if (response.status === 204 || gone(response)) {
      forget(entry.id);
      announce(entry.name + " was deleted.");
      return;
    }
    button.disabled = false;
    announce("The server refused to delete " + entry.name + " (" + (await errorText(response)) + ").");
  }

  // --- Uploading ------------------------------------------------------------------------

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") return body.error;
    } catch (error) {
      // Not JSON: fall through to the status line.
    }
    return "HTTP " + response.status;
  }

  function refusalText(status, serverMessage, retryAfter) {
    if (status === 413) return "Too large: " + serverMessage;
    if (status === 400) return "Refused: " + serverMessage;
    if (status === 401) return "The API key was refused: check it above, then retry.";
    const wait = retryAfter ? " in " + retryAfter + " s" : " shortly";
    if (status === 503 || status === 429) return "The service is busy: retry" + wait + ".";
    if (status === 409) return "The server is still taking this upload: retry" + wait + ".";
    return "Refused (HTTP " + status + "): " + serverMessage;
  }

  function uploadCard(file) {
    const card = element("li", { class: "card" });
    const thumb = element("div", { class: "thumb", "aria-hidden": "true" });
    const body = element("div");
    const name = element("p", { class: "name" }, file.name || "pasted image");
    const progress = element("progress", { max: "100", value: "0", "aria-label": "Upload of " + name.textContent });
    const message = element("p", { class: "message", role: "status" }, "Waiting to upload");
    body.append(name, progress, message);
    card.append(thumb, body);
    uploads.prepend(card);
    current.hidden = false;
    return { card, thumb, body, name: name.textContent, progress, message };
  }

  function fail(view, text, retry) {
    view.progress.remove();
    view.message.textContent = text;
    view.message.className = "message error";
    view.message.setAttribute("role", "alert");
    if (retry) {
      const again = element("button", { type: "button", class: "secondary" }, "Retry");
      again.addEventListener("click", () => {
        view.card.remove();
        retry();
      });
      view.body.append(again);
    }
  }

  // A UUID4 from getRandomValues, which a page on plain http has (randomUUID it has not).
  function newIdempotencyKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // One Idempotency-Key per file, sent again by its Retry: an upload whose answer was
  // lost is answered from the server's record instead of being stored twice.
  function startUpload(file, key = newIdempotencyKey()) {
    const view = uploadCard(file);
    const retry = () => startUpload(file, key);
    if (file.size > maxBytes) {
      // Refused here: not one byte of it is sent.
      fail(view, "Too large: " + sizeText(file.size) + "; the limit is " + sizeText(maxBytes) + ".");
      return;
    }
    const keyInput = document.getElementById("api-key");
    const apiKey = keyInput ? keyInput.value.trim() : "";
    if (keyInput && !apiKey) {
      fail(view, "This server needs an API key: enter it above, then retry.", retry);
      keyInput.focus();
      return;
    }
    const data = new FormData();
    data.append("image", file, file.name || "pasted-image");
    const request = new XMLHttpRequest();
    request.open("POST", "/");
    request.setRequestHeader("Accept", "application/json");
    if (apiKey) request.setRequestHeader("Authorization", "Bearer " + apiKey);
    request.setRequestHeader("Idempotency-Key", '"' + key + '"');
    request.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      view.progress.value = percent;
      view.message.textContent = "Uploading: " + percent + "%";
    });
    request.addEventListener("error", () => {
      fail(view, "Could not reach the server: check your connection and retry.", retry);
    });
    request.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch (error) {
        body = null;
      }
      if (request.status !== 202 || !body) {
        const serverMessage = body && body.error ? body.error : "HTTP " + request.status;
        const retryable = [401, 409, 429, 503].includes(request.status);
        fail(view, refusalText(request.status, serverMessage, request.getResponseHeader("Retry-After")),
          retryable ? retry : null);
        return;
      }
      accepted(view, body, request);
    });
    view.message.textContent = "Uploading: 0%";
    request.send(data);
  }

  function accepted(view, urls, request) {
    const location = request.getResponseHeader("Location") || "";
    const id = location.split("/").pop();
    const entry = {
      id,
      name: view.name,
      share: shareUrl(id),
      small: urls.small,
      token: request.getResponseHeader("Delete-Token") || null,
      at: Date.now(),
      ready: false,
    };
    remember(entry);
    view.progress.value = 100;
    view.message.textContent = "Uploaded; making the thumbnails";
    view.card.dataset.imageId = id;
    pollStatus(location, view, entry, POLL_FIRST_MS, Date.now());
  }

  async function pollStatus(statusUrl, view, entry, delay, started) {
    let status = null;
    try {
      // The server holds a pending answer until the image is ready (or 10 s pass).
      const response = await fetch(statusUrl, {
        headers: { Accept: "application/json", Prefer: "wait=10" },
      });
      if (gone(response)) {
        // Deleted meanwhile (from another tab, say).
        forget(entry.id);
        fail(view, "This image was deleted.");
        return;
      }
      status = response.ok ? await response.json() : null;
    } catch (error) {
      status = null; // a blip: keep polling within the bound
    }
    if (status && status.status === "ready") {
      showReady(view, entry, status.urls);
      return;
    }
    if (status && status.status === "failed") {
      fail(view, "The image was accepted but could not be processed.");
      return;
    }
    if (Date.now() - started > POLL_GIVE_UP_MS) {
      fail(view, "The thumbnails are taking unusually long: the share link will show them once ready.");
      view.body.append(shareRow(entry.share, "Share link of " + entry.name));
      return;
    }
    window.setTimeout(() => pollStatus(statusUrl, view, entry, Math.min(delay * 1.5, POLL_MAX_MS), started),
      delay);
  }

  function showReady(view, entry, urls) {
    view.progress.remove();
    view.message.textContent = "Ready to share";
    view.message.className = "message done";
    const small = element("img", { src: urls.small, alt: "Thumbnail of " + entry.name });
    view.thumb.append(small);
    const sizes = element("div", { class: "sizes" });
    sizes.append(element("img", { src: urls.medium, alt: "Medium thumbnail of " + entry.name }));
    const large = element("a", { href: urls.large }, "Large");
    const original = element("a", { href: urls.original }, "Original");
    sizes.append(large, original);
    view.body.append(sizes, shareRow(entry.share, "Share link of " + entry.name));
    markReady(entry.id);
    announce(entry.name + " is ready to share.");
  }

  function uploadAll(files) {
    const images = Array.from(files);
    if (images.length === 0) return;
    announce("Uploading " + images.length + (images.length === 1 ? " image" : " images"));
    images.forEach((file) => startUpload(file));
  }

  // --- Ways in: choose, drop, paste ---------------------------------------------------------

  input.addEventListener("change", () => {
    uploadAll(input.files);
    input.value = "";
  });

  ["dragenter", "dragover"].forEach((type) => dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => dropZone.addEventListener(type, () => {
    dropZone.classList.remove("dragging");
  }));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    uploadAll(event.dataTransfer.files);
  });
  // A file dropped beside the zone would make the browser navigate away to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  document.addEventListener("paste", (event) => {
    const files = Array.from(event.clipboardData ? event.clipboardData.files : []);
    if (files.length > 0) {
      event.preventDefault();
      uploadAll(files);
    }
  });

  renderHistory();
  loadHistory().filter((e) => !e.ready).forEach(checkPending);
})();
