// Measuring helper (not a test): node explore.mjs URL-QUERY... trains the default run once per
// query, prints the page's wall time and the trainer's own time.
import { launchChromium } from './chromium.mjs';
const base = process.env.BASE || 'http://127.0.0.1:8123';
const b = await launchChromium();
for (const q of process.argv.slice(2)) {
  const p = await b.newPage({ viewport: { width: 1280, height: 1000 } });
  await p.goto(`${base}/train${q}`);
  if (process.env.LIMIT) await p.fill('#limit', process.env.LIMIT);
  if (process.env.EPOCHS) await p.fill('#epochs', process.env.EPOCHS);
  await p.getByRole('button', { name: /Start training/ }).click();
  await p.waitForSelector('body[data-sha256]', { timeout: 600000 });
  console.log(q, 'wall', await p.getAttribute('body', 'data-wall-seconds'), '|', await p.textContent('#status'), '|', await p.textContent('#engine'), (await p.getAttribute('body', 'data-sha256')).slice(0, 12));
  await p.close();
}
await b.close();
