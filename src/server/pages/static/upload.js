// The upload page: choose, drop or paste images; each waits in its own card for a
// description (and, over the limit, for the person to agree to a fit) until sent, then
// uploads with its own progress bar, shows its thumbnails once the worker has made them,
// then a share link. "Your uploads" lives in localStorage. No framework: the page is
// small enough without one.
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
  // The formats the server takes (SHARER_ACCEPTED_FORMATS), as media types.
  const acceptedTypes = new Set(form.dataset.mediaTypes.split(" "));
  const maxDescription = Number(form.dataset.maxDescription);
  // The server's thumbnail sizes by name, smallest first (sharer.thumbnail_sizes).
  const thumbnailNames = form.dataset.thumbnailNames.split(" ");
  const uploadAllButton = document.getElementById("upload-all");
  // Fitting a photo over the limit: each round scales by the square root of the bytes
  // still to shed (bytes grow with the pixel count), a little further so most photos fit
  // in one or two rounds; the quality stays a photo's.
  const FIT_QUALITY = { "image/jpeg": 0.85, "image/webp": 0.8 };
  const FIT_MARGIN = 0.95;
  const FIT_ROUNDS = 12;
  // Cards waiting for their Upload (or for Upload all).
  const waiting = new Set();
  let cardsMade = 0;

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
      link.append(element("img", { src: entry.small, alt: entry.description || "Thumbnail of " + entry.name }));
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

  // --- Before sending: a description, and a fit for a photo over the limit -------------

  function stage(file) {
    const view = uploadCard(file);
    const id = "description-" + ++cardsMade;
    const controls = element("div", { class: "staging" });
    const label = element("label", { for: id }, "Description (alt text), optional");
    const text = element("textarea", {
      id, rows: "2", maxlength: String(maxDescription),
      placeholder: "What the image shows, for people who cannot see it",
    });
    const send = element("button", { type: "button" }, "Upload");
    controls.append(label, text, send);
    view.body.append(controls);
    view.progress.hidden = true;
    view.message.textContent = sizeText(file.size) + ": add a description if you like, then upload.";
    const item = { view, file, upload: file, text, controls, send, ready: file.size <= maxBytes };
    send.addEventListener("click", () => sendStaged(item));
    waiting.add(item);
    if (!item.ready) offerFit(item);
    updateUploadAll();
  }

  function updateUploadAll() {
    uploadAllButton.hidden = ![...waiting].some((item) => item.ready);
  }

  function sendStaged(item) {
    if (!item.ready || !waiting.delete(item)) return;
    updateUploadAll();
    const description = item.text.value;
    item.controls.remove();
    if (description.trim()) {
      item.view.body.insertBefore(element("p", { class: "description" }, description), item.view.progress);
    }
    item.view.progress.hidden = false;
    startUpload(item.upload, description, item.view);
  }

  function sizeChange(from, to) {
    return sizeText(from) + " \u2192 " + sizeText(to);
  }

  // Over the limit: say so at once; offer a fit only for an image this browser can read
  // and that is not an animation (a fit keeps one frame).
  async function offerFit(item) {
    const { view, file } = item;
    view.message.textContent = "Too large: " + sizeText(file.size) + "; the limit is " + sizeText(maxBytes) + ".";
    view.message.className = "message error";
    view.message.setAttribute("role", "alert");
    item.send.disabled = true;
    const note = element("p", { class: "note" });
    item.controls.prepend(note);
    const refusal = await unfittable(file);
    if (refusal) {
      note.textContent = refusal;
      return;
    }
    const fit = element("button", { type: "button", class: "secondary" }, "Fit it to " + sizeText(maxBytes));
    note.textContent = "A fit makes a smaller copy in this browser: turned upright, scaled down, " +
      "without its location or any other metadata. Nothing is sent until you choose Upload.";
    note.after(fit);
    fit.addEventListener("click", async () => {
      fit.disabled = true;
      fit.textContent = "Fitting\u2026";
      let fitted;
      try {
        fitted = await fitToLimit(file);
      } catch (error) {
        fit.remove();
        note.textContent = "This browser could not make it fit (" + error.message + ").";
        return;
      }
      fit.remove();
      const stem = (file.name || "pasted-image").replace(/\.[^.]*$/, "");
      const extension = fitted.type === "image/webp" ? ".webp" : ".jpg";
      item.upload = new File([fitted.blob], stem + extension, { type: fitted.type });
      item.ready = true;
      item.send.disabled = false;
      item.send.textContent = "Upload the fitted copy";
      view.message.textContent = "Fitted: " + sizeChange(file.size, fitted.blob.size) + ", " +
        fitted.from.join("\u00d7") + " \u2192 " + fitted.to.join("\u00d7") + " pixels.";
      view.message.className = "message done";
      view.message.setAttribute("role", "status");
      note.textContent = "Turned upright; its location and other metadata removed.";
      announce(view.name + " fits now: " + sizeChange(file.size, fitted.blob.size));
      updateUploadAll();
    });
  }

  async function unfittable(file) {
    const head = new Uint8Array(await file.slice(0, 65536).arrayBuffer());
    if (isAnimation(head)) {
      return "An animation cannot be fitted here: a fit would keep only its first frame.";
    }
    try {
      (await createImageBitmap(file)).close();
    } catch (error) {
      const heic = ascii(head, 4, 8) === "ftyp" && !["avif", "avis"].includes(ascii(head, 8, 12));
      return heic
        ? "This browser cannot open HEIC photos, so it cannot fit this one: use " +
          "\u201csharer upload --fit\u201d, or export the photo as JPEG."
        : "This browser cannot read this image, so it cannot fit it.";
    }
    return null;
  }

  function ascii(bytes, start, end) {
    return String.fromCharCode(...bytes.subarray(start, end));
  }

  // GIF (which may animate), APNG (an acTL chunk before the pixels), animated WebP (the
  // VP8X animation flag) and an AVIF image sequence (the avis brand).
  function isAnimation(head) {
    if (ascii(head, 0, 4) === "GIF8") return true;
    if (ascii(head, 1, 4) === "PNG") {
      for (let at = 8; at + 8 <= head.length;) {
        const length = ((head[at] << 24) | (head[at + 1] << 16) | (head[at + 2] << 8) | head[at + 3]) >>> 0;
        const kind = ascii(head, at + 4, at + 8);
        if (kind === "acTL") return true;
        if (kind === "IDAT") return false;
        at += length + 12;
      }
      return false;
    }
    if (ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 16) === "WEBPVP8X") return (head[20] & 0x02) !== 0;
    return ascii(head, 4, 8) === "ftyp" && ascii(head, 8, 12) === "avis";
  }

  function fitType(bitmap) {
    let alpha = false;
    if (acceptedTypes.has("image/webp")) {
      const probe = document.createElement("canvas");
      probe.width = 64;
      probe.height = 64;
      const context = probe.getContext("2d", { willReadFrequently: true });
      context.drawImage(bitmap, 0, 0, 64, 64);
      const pixels = context.getImageData(0, 0, 64, 64).data;
      for (let at = 3; at < pixels.length && !alpha; at += 4) alpha = pixels[at] < 255;
    }
    if (alpha) return "image/webp";
    if (acceptedTypes.has("image/jpeg")) return "image/jpeg";
    if (acceptedTypes.has("image/webp")) return "image/webp";
    throw new Error("the server takes neither JPEG nor WebP");
  }

  // Decoded upright (createImageBitmap applies the EXIF orientation), drawn smaller until
  // the encoding fits; a canvas encodes pixels only, so no metadata is carried over.
  async function fitToLimit(file) {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    try {
      const type = fitType(bitmap);
      let scale = 1;
      for (let round = 0; round < FIT_ROUNDS; round++) {
        const width = Math.max(1, Math.round(bitmap.width * scale));
        const height = Math.max(1, Math.round(bitmap.height * scale));
        const canvas = document.createElement("canvas");
        canvas.width = width;
        canvas.height = height;
        const context = canvas.getContext("2d");
        if (type === "image/jpeg") {
          context.fillStyle = "#fff"; // JPEG has no transparency: white, not black
          context.fillRect(0, 0, width, height);
        }
        context.imageSmoothingQuality = "high";
        context.drawImage(bitmap, 0, 0, width, height);
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, type, FIT_QUALITY[type]));
        if (!blob || blob.type !== type) throw new Error("it cannot encode " + type);
        if (blob.size <= maxBytes) {
          return { blob, type, from: [bitmap.width, bitmap.height], to: [width, height] };
        }
        scale *= Math.min(0.9, Math.sqrt(maxBytes / blob.size) * FIT_MARGIN);
      }
      throw new Error("still too large after " + FIT_ROUNDS + " tries");
    } finally {
      bitmap.close();
    }
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

  // One Idempotency-Key per file, sent again by its Retry with the same description (the
  // key is bound to both): an upload whose answer was lost is answered from the server's
  // record instead of being stored twice.
  function startUpload(file, description, view, key = newIdempotencyKey()) {
    const retry = () => startUpload(file, description, uploadCard(file), key);
    const keyInput = document.getElementById("api-key");
    const apiKey = keyInput ? keyInput.value.trim() : "";
    if (keyInput && !apiKey) {
      fail(view, "This server needs an API key: enter it above, then retry.", retry);
      keyInput.focus();
      return;
    }
    const data = new FormData();
    if (description.trim()) data.append("description", description);
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
      accepted(view, body, request, description);
    });
    view.message.textContent = "Uploading: 0%";
    request.send(data);
  }

  function accepted(view, urls, request, description) {
    const location = request.getResponseHeader("Location") || "";
    const id = location.split("/").pop();
    const entry = {
      id,
      name: view.name,
      share: shareUrl(id),
      small: urls[thumbnailNames[0]], // the smallest thumbnail, whatever its name
      token: request.getResponseHeader("Delete-Token") || null,
      description: description.trim() || null,
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
    const small = element("img", {
      src: urls[thumbnailNames[0]], alt: entry.description || "Thumbnail of " + entry.name,
    });
    view.thumb.append(small);
    // A link to every larger size and the original, named as the API names them.
    const sizes = element("div", { class: "sizes" });
    for (const name of [...thumbnailNames.slice(1), "original"]) {
      sizes.append(element("a", { href: urls[name] }, name.charAt(0).toUpperCase() + name.slice(1)));
    }
    view.body.append(sizes, shareRow(entry.share, "Share link of " + entry.name));
    markReady(entry.id);
    announce(entry.name + " is ready to share.");
  }

  function stageAll(files) {
    const images = Array.from(files);
    if (images.length === 0) return;
    announce(images.length + (images.length === 1 ? " image" : " images") + " ready to describe and upload");
    images.forEach(stage);
  }

  uploadAllButton.addEventListener("click", () => {
    const ready = [...waiting].filter((item) => item.ready); // in the order chosen
    announce("Uploading " + ready.length + (ready.length === 1 ? " image" : " images"));
    ready.forEach(sendStaged);
  });

  // --- Ways in: choose, drop, paste ---------------------------------------------------------

  input.addEventListener("change", () => {
    stageAll(input.files);
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
    stageAll(event.dataTransfer.files);
  });
  // A file dropped beside the zone would make the browser navigate away to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  document.addEventListener("paste", (event) => {
    const files = Array.from(event.clipboardData ? event.clipboardData.files : []);
    if (files.length > 0) {
      event.preventDefault();
      stageAll(files);
    }
  });

  renderHistory();
  loadHistory().filter((e) => !e.ready).forEach(checkPending);
})();
