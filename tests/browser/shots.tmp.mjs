import { launchChromium } from './chromium.mjs';
const URL = process.env.MNISTLEARN_URL;
const browser = await launchChromium();
for (const [name, vp, mobile] of [['desktop', { width: 1280, height: 900 }, false], ['tablet', { width: 768, height: 1024 }, true], ['phone', { width: 390, height: 844 }, true]]) {
  const page = await browser.newPage({ viewport: vp, isMobile: mobile, hasTouch: mobile });
  await page.goto(URL + '/');
  await page.waitForFunction(() => document.querySelectorAll('#hidden canvas.unit').length > 0);
  const box = await page.locator('#canvas').boundingBox();
  const s = box.width / 280;
  // a small 8 in the bottom-right corner
  const pts = [];
  for (let i = 0; i <= 60; i++) { const a = i / 60 * 2 * Math.PI; pts.push([240 + 12 * Math.sin(a), 232 + 10 * (1 - Math.cos(a)) * (i < 30 ? 1 : 1) * (i < 30 ? 1 : -1) * -1]); }
  const eight = [];
  for (let i = 0; i <= 40; i++) { const a = i / 40 * 2 * Math.PI; eight.push([240 - 10 * Math.sin(a), 222 + 10 - 10 * Math.cos(a)]); }
  for (let i = 0; i <= 40; i++) { const a = i / 40 * 2 * Math.PI; eight.push([240 + 12 * Math.sin(a), 242 + 12 - 12 * Math.cos(a)].map((v, k) => k ? v - 0 : v)); }
  await page.mouse.move(box.x + eight[0][0] * s, box.y + eight[0][1] * s);
  await page.mouse.down();
  for (const p of eight.slice(1)) await page.mouse.move(box.x + p[0] * s, box.y + p[1] * s);
  await page.mouse.up();
  await page.waitForTimeout(800);
  await page.screenshot({ path: `/tmp/shots/${name}.png` });
  console.log(name, await page.locator('#status').textContent());
  await page.close();
}
await browser.close();
