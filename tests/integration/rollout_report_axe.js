// Accessibility check of rendered pages (tests/integration/rollout_report.sh):
// each HTML file opened in the system Chromium through playwright-core, axe-core
// evaluated in the page (through the DevTools protocol: the page's CSP, which
// forbids every script, stays in force for the page itself), axe.run with the
// WCAG 2.0/2.1 A and AA rules. Prints one line per violation and node; exits 1
// if there is any violation, console error or page error, 2 on a setup failure.
//
//   NODE_PATH=DIR/node_modules node rollout_report_axe.js AXE_JS CHROMIUM FILE.html...
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
	const [axePath, chromiumPath, ...files] = process.argv.slice(2);
	if (!axePath || !chromiumPath || !files.length) {
		console.error('usage: rollout_report_axe.js AXE_JS CHROMIUM FILE.html...');
		return 2;
	}
	let chromium;
	try {
		({ chromium } = require('playwright-core'));
	} catch (e) {
		console.error(`playwright-core not found (NODE_PATH=${process.env.NODE_PATH || ''}): ${e.message}`);
		return 2;
	}
	const axeSrc = fs.readFileSync(axePath, 'utf8');
	const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
	let bad = 0;
	try {
		for (const f of files) {
			const page = await browser.newPage();
			const errors = [];
			page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
			page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
			await page.goto('file://' + path.resolve(f));
			await page.evaluate(axeSrc);
			const r = await page.evaluate(() => globalThis.axe.run(document, {
				runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
				resultTypes: ['violations'],
			}));
			for (const v of r.violations) {
				for (const n of v.nodes) {
					console.log(`${path.basename(f)}: ${v.id} (${v.impact}): ${v.help}: ${n.target.join(' ')}: ${n.failureSummary.replace(/\n/g, ' ')}`);
				}
			}
			for (const e of errors)
				console.log(`${path.basename(f)}: ${e}`);
			console.log(`${path.basename(f)}: ${r.violations.length} violation(s), ${r.passes ? r.passes.length : 0} rule(s) passed, ${errors.length} error(s), axe ${r.testEngine.version}`);
			bad += r.violations.length + errors.length;
			await page.close();
		}
	} finally {
		await browser.close();
	}
	return bad ? 1 : 0;
}

main().then((rc) => process.exit(rc), (e) => { console.error(`axe check failed to run: ${e.stack || e}`); process.exit(2); });
