// The console's tests in headless Chromium (console_test.sh prepares the
// servers and their data).
// usage: node console_test.js OPEN_URL TOKEN_URL TOKEN CHROMIUM SCREENSHOT_DIR
"use strict";
const { chromium } = require("playwright-core");
const assert = require("assert");
const path = require("path");

const [openUrl, tokenUrl, token, executablePath, shots] = process.argv.slice(2);

const tests = [];
function test(name, fn) { tests.push({ name, fn }); }

async function newPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("dialog", (d) => { errors.push("a dialog opened: " + d.message()); d.dismiss(); });
  page.errors = errors;
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, name), fullPage: true });
}

test("the job list shows each job's records, replays and what a replay saves", async (browser) => {
  const page = await newPage(browser);
  await page.goto(openUrl + "/");
  const row = page.locator('tr.job[data-job="agents"]');
  await row.waitFor();
  const cells = await row.locator("td").allTextContents();
  // job, records, entries, stored, tokens, USD, replayed records, replays
  assert.deepStrictEqual([cells[0], cells[1], cells[2], cells[6], cells[7]], ["agents", "121", "123", "1", "1"]);
  assert.strictEqual(cells[4], "150");
  assert.strictEqual(cells[5], "0.000450");
  assert.ok(await page.locator('tr.job[data-job="hostile"]').count() === 1);
  await shot(page, "jobs.png");
  assert.deepStrictEqual(page.errors, []);
  await page.close();
});

test("a job's records page through 121 records and the search filters them", async (browser) => {
  const page = await newPage(browser);
  await page.goto(openUrl + "/#/job/agents");
  await page.locator("#records tr.record").first().waitFor();
  assert.strictEqual(await page.locator("#records tr.record").count(), 50);
  const seen = new Set(await page.locator("#records tr.record td.key").allTextContents());
  await page.click("#next-page");
  await page.waitForFunction(() => document.getElementById("page-info").textContent.startsWith("page 2"));
  const second = await page.locator("#records tr.record td.key").allTextContents();
  assert.strictEqual(second.length, 50);
  for (const k of second) assert.ok(!seen.has(k), "page 2 repeats " + k);
  await page.click("#next-page");
  await page.waitForFunction(() => document.getElementById("page-info").textContent.startsWith("page 3"));
  assert.strictEqual(await page.locator("#records tr.record").count(), 21);
  assert.ok(await page.locator("#next-page").isDisabled());
  await page.click("#prev-page");
  await page.waitForFunction(() => document.getElementById("page-info").textContent.startsWith("page 2"));
  // Search: a key prefix, then "replayed".
  await page.fill("#prefix", "order-11");
  await page.click('#filters button[type="submit"]');
  await page.waitForFunction(() => document.querySelectorAll("#records tr.record").length === 10);
  const keys = await page.locator("#records tr.record td.key").allTextContents();
  assert.ok(keys.every((k) => k.startsWith("order-11")), keys.join(","));
  await page.fill("#prefix", "");
  await page.check("#replayed");
  await page.click('#filters button[type="submit"]');
  await page.waitForFunction(() => document.querySelectorAll("#records tr.record").length === 1);
  assert.deepStrictEqual(await page.locator("#records tr.record td.key").allTextContents(), ["user-1"]);
  await shot(page, "records.png");
  assert.deepStrictEqual(page.errors, []);
  await page.close();
});

test("a replayed record's timeline tells what the replay reused and what it ran again", async (browser) => {
  const page = await newPage(browser);
  await page.goto(openUrl + "/#/job/agents?replayed=1");
  await page.locator("#records tr.record").first().click();
  await page.locator(".action .entry").first().waitFor();
  const step0 = page.locator('.entry.step[data-index="0"]');
  const step1 = page.locator('.entry.step[data-index="1"]');
  assert.match(await step0.textContent(), /llm\.chat/);
  assert.strictEqual(await step0.locator(".badge.reused").textContent(), "reused by the replay");
  assert.match(await step1.textContent(), /mcp:search/);
  assert.strictEqual(await step1.locator(".badge.ran").textContent(), "ran in the replay");
  assert.strictEqual(await page.locator(".entry.completion .badge.ran").count(), 1);
  assert.match(await page.locator("#summary").textContent(), /replays1, the last at/);
  await step0.locator("button.show-payload").click();
  await step0.locator("pre.payload").waitFor();
  assert.strictEqual(await step0.locator("pre.payload").textContent(), "The answer is 42");
  await shot(page, "record.png");
  assert.deepStrictEqual(page.errors, []);
  await page.close();
});

test("a hostile key, action and payload are shown as text and never run", async (browser) => {
  const page = await newPage(browser);
  await page.goto(openUrl + "/#/job/hostile");
  await page.locator("#records tr.record").first().waitFor();
  assert.strictEqual(await page.locator("#records tr.record td.key").textContent(),
    '<img src=x onerror="window.__xss=1">');
  await page.locator("#records tr.record").first().click();
  await page.locator(".entry.completion").waitFor();
  assert.strictEqual(await page.locator(".action h2 .key").textContent(),
    "<b onmouseover=window.__xss=2>act</b>");
  await page.locator(".action h2 .key").hover();
  await page.locator(".entry.completion button.show-payload").click();
  const pre = page.locator(".entry.completion pre.payload");
  await pre.waitFor();
  const shown = await pre.textContent();
  // Control bytes make it binary: shown as hex, nothing interpreted.
  assert.ok(shown.startsWith("0x3c7363726970743e"), shown);
  assert.strictEqual(await page.locator("#view img, #view script, #view b").count(), 0);
  assert.strictEqual(await page.evaluate(() => window.__xss), undefined);
  await shot(page, "hostile.png");
  assert.deepStrictEqual(page.errors, []);
  await page.close();
});

test("a server that requires a token asks for one and shows a refusal plainly", async (browser) => {
  const page = await newPage(browser);
  await page.goto(tokenUrl + "/");
  await page.locator("#token-form").waitFor({ state: "visible" });
  assert.match(await page.locator("#notice").textContent(), /requires a token/);
  await page.fill("#token", "not-the-token");
  await page.click('#token-form button[type="submit"]');
  await page.waitForFunction(() => /refused this token/.test(document.getElementById("notice").textContent));
  await shot(page, "token-refused.png");
  await page.fill("#token", token);
  await page.click('#token-form button[type="submit"]');
  // This token may read job agents only: the list of every job is refused,
  // plainly, and the job opens by its id.
  await page.waitForFunction(() => /Refused \(PERMISSION_DENIED\)/.test(document.getElementById("notice").textContent));
  assert.match(await page.locator("#notice").textContent(), /may not admin job '\*'/);
  await page.fill("#job-id", "agents");
  await page.click('#open-job button[type="submit"]');
  await page.locator("#records tr.record").first().waitFor();
  assert.strictEqual(await page.locator("#records tr.record").count(), 50);
  await page.goto(tokenUrl + "/#/job/hostile");
  await page.waitForFunction(() => /Refused \(PERMISSION_DENIED\)/.test(document.getElementById("notice").textContent));
  assert.match(await page.locator("#notice").textContent(), /may not read job 'hostile'/);
  await shot(page, "token-permission.png");
  assert.deepStrictEqual(page.errors, []);
  await page.close();
});

(async () => {
  const browser = await chromium.launch({
    executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  let failed = 0;
  for (const t of tests) {
    try {
      await t.fn(browser);
      console.log("ok   " + t.name);
    } catch (e) {
      failed++;
      console.log("FAIL " + t.name + "\n" + (e && e.stack || e));
    }
  }
  await browser.close();
  console.log(tests.length + " tests, " + failed + " failed; screenshots in " + shots);
  process.exit(failed ? 1 : 0);
})();
