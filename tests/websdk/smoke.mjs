// The real Web SDK against the reference server (room capacity 2): alice and bobby join and see
// each other with their userData, carol is refused as the SDK reports a full room (DISCONNECTED
// ERROR 10011, join rejected 21003), bobby leaves and alice sees user-left.
// Usage: node smoke.mjs PAGE_URL SERVER_URL TOKEN_ALICE TOKEN_BOBBY TOKEN_CAROL
import { chromium } from "playwright-core";

const [pageUrl, host, tA, tB, tC] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // No background networking: this machine reaches nothing but loopback.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const ctx = await browser.newContext();
const open = async () => { const p = await ctx.newPage(); await p.goto(pageUrl); return p; };
const events = (p) => p.evaluate(() => window.events);
async function until(p, pred, what) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (pred(await events(p))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await events(p))}`);
}
const has = (name, ...rest) => (evs) => evs.some((e) => e[0] === name && rest.every((v, i) => e[i + 1] === v));

const results = [];
async function check(name, fn) {
  try { await fn(); results.push([name, true]); console.log(`PASS ${name}`); }
  catch (e) { results.push([name, false]); console.log(`FAIL ${name}: ${e.message}`); }
}

const [a, b, c] = [await open(), await open(), await open()];
await a.evaluate(([h, t]) => runJoin(h, t, "data-alice"), [host, tA]);
await check("alice joins: CONNECTED, join resolves", () => until(a, (e) => has("joined")(e) && has("state", "CONNECTED", "")(e), "alice joined"));
await b.evaluate(([h, t]) => runJoin(h, t, "data-bobby"), [host, tB]);
await check("bobby joins and is told alice is there, with her userData", () => until(b, (e) => has("joined")(e) && has("user-joined", "alice", "data-alice")(e), "bobby sees alice"));
await check("alice sees bobby join, with his userData", () => until(a, has("user-joined", "bobby", "data-bobby"), "alice sees bobby"));
await c.evaluate(([h, t]) => runJoin(h, t, "data-carol"), [host, tC]);
await check("carol: room full as DISCONNECTED ERROR 10011", () => until(c, (e) => e.some((x) => x[0] === "state" && x[1] === "DISCONNECTED" && x[2].includes('"errorCode":10011')), "carol 10011"));
await check("carol: join rejected with 21003", () => until(c, has("join-rejected", "21003"), "carol 21003"));
await b.evaluate(() => leave());
await check("bobby leaves: DISCONNECTED LEAVE", () => until(b, (e) => e.some((x) => x[0] === "state" && x[1] === "DISCONNECTED" && x[2].includes('"reason":"LEAVE"')), "bobby left"));
await check("alice sees bobby leave", () => until(a, has("user-left", "bobby"), "alice sees user-left"));
await check("alice never saw carol", async () => { if ((await events(a)).some((e) => e[1] === "carol")) throw new Error("carol leaked"); });
await browser.close();

const passed = results.filter((r) => r[1]).length;
console.log(`websdk: ${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
