// Drives the operator dashboard in headless chromium (Debian's, through playwright-core) for
// tests/tests/e2e/dashboard_browser.rs. Environment: BASE_URL, OPERATOR_TOKEN, TASK_ID,
// HOSTILE_TEXT, SCREENSHOT, UPLOAD_ID (an upload holding 40 of its 100 bytes). Prints `READY` once the queued task is shown, then waits for the
// test to start the workers and for the page to show the task completed.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const { BASE_URL, OPERATOR_TOKEN, TASK_ID, HOSTILE_TEXT, SCREENSHOT, UPLOAD_ID } = process.env;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", (dialog) => { problems.push(`dialog: ${dialog.message()}`); dialog.dismiss(); });

  // Without a token: the login form, and a wrong token is refused with the server's message.
  await page.goto(`${BASE_URL}/ops/`);
  await page.locator("#login").waitFor({ state: "visible" });
  assert.equal(await page.locator("#dashboard").isVisible(), false);
  await page.fill("#token-input", "not-the-operator-token");
  await page.click("#login-form button");
  await page.locator("#login-error").filter({ hasText: "not valid" }).waitFor();
  assert.equal(await page.locator("#dashboard").isVisible(), false);

  // With the token: the dashboard.
  await page.fill("#token-input", OPERATOR_TOKEN);
  await page.click("#login-form button");
  await page.locator("#dashboard").waitFor({ state: "visible" });
  const row = page.locator(`#tasks tbody tr[data-task-id="${TASK_ID}"]`);
  await row.waitFor();
  assert.match(await row.locator("td").nth(3).innerText(), /queued/);
  assert.equal(await row.locator('[role="progressbar"]').getAttribute("aria-valuenow"), "0");

  // Queue depth of the waiting chunks.
  const queueRow = page.locator("#queues tbody tr", { hasText: "create_core_profiles" });
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#queues tbody tr")];
    const row = rows.find((r) => r.cells[0].textContent === "create_core_profiles");
    return row && Number(row.cells[1].textContent.replace(/,/g, "")) > 0;
  });
  assert.ok(await queueRow.isVisible());

  // Hostile text from the database is shown as text, never interpreted.
  const hostileCell = page.locator("#tasks td.domain", { hasText: HOSTILE_TEXT });
  await hostileCell.first().waitFor();
  assert.equal(await hostileCell.first().textContent(), HOSTILE_TEXT);
  await page.locator("#stalled li", { hasText: HOSTILE_TEXT }).first().waitFor();
  assert.equal(await page.locator("#dashboard img").count(), 0, "no element was injected");
  assert.equal(await page.evaluate(() => window.__pwned), undefined, "no injected script ran");
  assert.equal(await page.locator("#stalled-count").innerText(), "1");

  // An upload under way: its file, its progress and its bytes.
  const upload = page.locator(`#uploads tbody tr[data-upload-id="${UPLOAD_ID}"]`);
  await upload.waitFor();
  assert.equal(await upload.locator("td").nth(2).innerText(), "people.jsonl");
  assert.equal(await upload.locator('[role="progressbar"]').getAttribute("aria-valuenow"), "40");
  assert.equal(await upload.locator("td.bytes").innerText(), "40 / 100");

  console.log("READY");

  // The workers start: the bar moves to 100 % and the chart shows the committed records.
  await page.waitForFunction((id) => {
    const row = document.querySelector(`#tasks tbody tr[data-task-id="${id}"]`);
    return row && row.cells[3].textContent.startsWith("completed")
      && row.querySelector('[role="progressbar"]').getAttribute("aria-valuenow") === "100";
  }, TASK_ID, { timeout: 60_000 });
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#throughput-chart rect.bucket")]
      .some((bar) => Number(bar.getAttribute("data-records")) > 0));
  // The upload was finished and made into a task meanwhile.
  await page.waitForFunction((id) => {
    const row = document.querySelector(`#uploads tbody tr[data-upload-id="${id}"]`);
    return row && row.querySelector("td.task").textContent !== "–"
      && row.querySelector('[role="progressbar"]').getAttribute("aria-valuenow") === "100";
  }, UPLOAD_ID, { timeout: 60_000 });
  const processed = await row.locator("td.processed").innerText();
  assert.match(processed, /^([\d,]+) \/ \1$/, `processed equals total: ${processed}`);

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.deepEqual(problems, []);
  console.log("PASSED");
} finally {
  await browser.close();
}
