// A share page whose image is still pending: poll its status (each poll held by the
// server while pending; with backoff, bounded) and reload once it is ready, failed or
// deleted, so the server renders the final page.
"use strict";

(function () {
  const share = document.getElementById("share");
  const statusUrl = share.dataset.statusUrl;
  const FIRST_MS = 500;
  const MAX_MS = 5000;
  const GIVE_UP_MS = 10 * 60 * 1000;
  const started = Date.now();

  async function poll(delay) {
    try {
      // The server holds a pending answer until the image is ready (or 10 s pass).
      const response = await fetch(statusUrl, {
        headers: { Accept: "application/json", Prefer: "wait=10" },
      });
      // Unknown or deleted (410): the server renders that page; stop polling.
      if (response.status === 404 || response.status === 410) {
        window.location.reload();
        return;
      }
      const status = response.ok ? await response.json() : null;
      if (status && status.status !== "pending") {
        window.location.reload();
        return;
      }
    } catch (error) {
      // A blip: try again within the bound.
    }
    if (Date.now() - started < GIVE_UP_MS) {
      window.setTimeout(() => poll(Math.min(delay * 1.5, MAX_MS)), delay);
    }
  }

  window.setTimeout(() => poll(FIRST_MS), FIRST_MS);
})();
