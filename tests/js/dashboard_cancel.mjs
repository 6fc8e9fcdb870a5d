// Cancels a queued task from the operator dashboard in headless chromium, for
// tests/tests/e2e/dashboard_browser.rs. Environment: BASE_URL, OPERATOR_TOKEN, TASK_ID,
// DRY_RUN_TASK_ID. The confirmation is accepted; the row then shows the task as canceling and
// offers no button. The dry-run task's row carries a "dry run" badge and, as the first task's
// child, a "retry of" badge; the revert task's row a "revert of" badge.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const { BASE_URL, OPERATOR_TOKEN, TASK_ID, DRY_RUN_TASK_ID, REVERT_TASK_ID } = process.env;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  const questions = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", (dialog) => { questions.push(dialog.message()); dialog.accept(); });

  await page.goto(`${BASE_URL}/ops/#token=${encodeURIComponent(OPERATOR_TOKEN)}`);
  await page.locator("#dashboard").waitFor({ state: "visible" });
  const row = page.locator(`#tasks tbody tr[data-task-id="${TASK_ID}"]`);
  await row.waitFor();
  assert.match(await row.locator("td").nth(3).innerText(), /queued/);
  assert.doesNotMatch(await row.locator("td").nth(3).innerText(), /dry run/);
  // A dry run is marked as one.
  const dryRun = page.locator(`#tasks tbody tr[data-task-id="${DRY_RUN_TASK_ID}"]`);
  await dryRun.waitFor();
  assert.match(await dryRun.locator("td").nth(3).innerText(), /dry run/);
  assert.match(await dryRun.locator("td").nth(3).innerText(), new RegExp(`retry of ${TASK_ID}`));
  assert.doesNotMatch(await row.locator("td").nth(3).innerText(), /retry of/);
  const revert = page.locator(`#tasks tbody tr[data-task-id="${REVERT_TASK_ID}"]`);
  const revertState = await revert.locator("td").nth(3).innerText();
  assert.match(revertState, new RegExp(`revert of ${TASK_ID}`));
  assert.doesNotMatch(revertState, /retry of/);
  await row.locator("button.cancel").click();
  await page.waitForFunction((id) => {
    const row = document.querySelector(`#tasks tbody tr[data-task-id="${id}"]`);
    return row && row.cells[3].textContent.includes("canceling") && !row.querySelector("button.cancel");
  }, TASK_ID, { timeout: 30_000 });
  assert.equal(questions.length, 1, `one confirmation: ${questions}`);
  assert.ok(questions[0].includes(TASK_ID), questions[0]);
  assert.deepEqual(problems, []);
  console.log("PASSED");
} finally {
  await browser.close();
}
