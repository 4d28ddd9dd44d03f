// The critic panel in Debian's Chromium: sample, complete and score reviews; tell who
// wrote a kept-aside review; its settings travel in the address; bad input is named
// and nothing typed is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, setValue, waitForStatus } from './helpers.mjs';

const learned = (page) => page.waitForFunction(() => /attributed to the right critic/.test(document.getElementById('critic-status').textContent), null, { timeout: 30000 });
const text = (page, id) => page.textContent(`#${id}`);
const critics = ['The Enthusiast', 'The Grump'];

test('the critics write, finish and score reviews, and tell who wrote one kept aside', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4' }, async (lab) => {
    const { page } = lab;
    await learned(page);
    assert.match(await text(page, 'critic-status'), /Learned from 40 and 40 reviews with k = 0\.01; 62 words in all\. On the 20 reviews kept aside \(never learned from\), 17 of 20 \(85 %\)/);
    // Sampling: each click adds one review, by the critic asked.
    await page.click('#critic-sample-0');
    await page.click('#critic-sample-1');
    await page.waitForFunction(() => document.querySelectorAll('#critic-samples li').length === 2);
    const samples = await page.$$eval('#critic-samples li', (items) => items.map((li) => li.textContent));
    assert.match(samples[0], /^The Grump: “[a-z' -]+”/);
    assert.match(samples[1], /^The Enthusiast: “[a-z' -]+”/);
    // Completion keeps the given words.
    await page.fill('#critic-prefix', 'The plot');
    await page.click('#critic-complete');
    await page.waitForFunction(() => document.querySelectorAll('#critic-completions li').length === 2);
    for (const item of await page.$$eval('#critic-completions li', (items) => items.map((li) => li.textContent))) {
      assert.match(item, /: “the plot( [a-z' -]+)?”$/);
    }
    // Scoring: a bar per word and one for the end, under each critic; the verdict.
    await page.fill('#critic-review', 'a tedious waste of time');
    await page.click('#critic-score');
    await page.waitForFunction(() => document.querySelectorAll('.critic-score').length === 2);
    assert.deepEqual(await page.$$eval('.critic-score', (blocks) => blocks.map((b) => b.querySelectorAll('.bar-row').length)), [6, 6]);
    assert.match(await text(page, 'critic-verdict'), /it reads like The Grump/);
    // Attribution of reviews neither model learned from.
    await page.click('#critic-take');
    await page.waitForFunction(() => /It was kept aside from/.test(document.getElementById('critic-verdict').textContent));
    assert.match(await text(page, 'critic-verdict'), /^log P\(The Enthusiast\) − log P\(The Grump\) = -?[\d.]+ nats: it reads like (The Enthusiast|The Grump) .*It was kept aside from (The Enthusiast|The Grump)'s reviews: (right|wrong)\.$/);
    // The table for a context, as bars.
    await page.fill('#critic-context-1', 'the');
    await page.fill('#critic-context-2', 'plot');
    await page.press('#critic-context-2', 'Tab');
    await page.waitForFunction(() => /The Enthusiast: after “the” “plot”, seen once/.test(document.getElementById('critic-table-note').textContent));
    assert.equal(await page.$$eval('#critic-table .bar-row', (rows) => rows.length), 12);
    await page.selectOption('#critic-context-which', '1');
    await page.waitForFunction(() => /^The Grump: after “the” “plot”/.test(document.getElementById('critic-table-note').textContent));
    await page.$eval('#critic-panel', (panel) => panel.scrollIntoView());
    await lab.screenshot('critic');
  });
});

test('the critic settings travel in the address', async () => {
  const hash = '#data=bars&side=4&ck=0.5&temp=2&ctx=the+script';
  await withLab({ hash }, async (lab) => {
    const { page } = lab;
    await learned(page);
    const check = async () => {
      assert.equal(await page.inputValue('#critic-k'), '0.5');
      assert.equal(await page.inputValue('#critic-temperature'), '2');
      assert.equal(await page.inputValue('#critic-context-1'), 'the');
      assert.equal(await page.inputValue('#critic-context-2'), 'script');
      await page.waitForFunction(() => /after “the” “script”/.test(document.getElementById('critic-table-note').textContent));
      assert.match(await text(page, 'critic-status'), /with k = 0\.5;/);
    };
    await check();
    // The address keeps them from the first moment (the page writes it while loading).
    const params = new URLSearchParams(new URL(page.url()).hash.slice(1));
    assert.deepEqual([params.get('ck'), params.get('temp'), params.get('ctx')], ['0.5', '2', 'the script']);
    // Context words are read as reviews are: case and quotes do not matter; none is the start.
    await page.fill('#critic-context-1', 'THE');
    await page.fill('#critic-context-2', "'Script'");
    await page.press('#critic-context-2', 'Tab');
    await page.waitForFunction(() => /after “THE” “'Script'”, seen/.test(document.getElementById('critic-table-note').textContent));
    await page.fill('#critic-context-1', '');
    await page.fill('#critic-context-2', '');
    await page.press('#critic-context-2', 'Tab');
    await page.waitForFunction(() => /after \(start\) \(start\), seen 40 times/.test(document.getElementById('critic-table-note').textContent));
    // A new k in the address is learned with.
    await page.evaluate(() => { location.hash = location.hash.replace('ck=0.5', 'ck=2'); });
    await page.waitForFunction(() => /with k = 2;/.test(document.getElementById('critic-status').textContent));
    // The links to the panels scroll there and leave the settings and the model alone.
    const before = page.url();
    await page.click('a[href="#critic-panel"]');
    await page.waitForTimeout(300);
    assert.equal(page.url(), before);
    await setValue(page, 'critic-temperature', '0.8');
    await page.waitForFunction(() => new URLSearchParams(location.hash.slice(1)).get('temp') === '0.8');
    await page.reload();
    await waitForStatus(page, ['Ready']);
    await learned(page);
    assert.equal(await page.inputValue('#critic-temperature'), '0.8');
  });
});

test('bad input to the critic is named, and nothing typed is lost', async () => {
  await withLab({ hash: '#seed=1&data=bars&side=4&ck=0&temp=500&ctx=a+b+c' }, async (lab) => {
    const { page } = lab;
    await learned(page);
    const notice = await text(page, 'notice-text');
    assert.match(notice, /ck = 0 is not allowed: between 0\.001 and 100/);
    assert.match(notice, /temp = 500 is not allowed: between 0\.05 and 20/);
    assert.match(notice, /ctx = "a b c": a context is at most two words/);
    // Absurd values typed are refused and put back.
    await setValue(page, 'critic-k', '-3');
    await page.waitForFunction(() => /smoothing_k = -3 is not allowed/.test(document.getElementById('critic-message').textContent));
    assert.equal(await page.inputValue('#critic-k'), '0.01');
    await setValue(page, 'critic-temperature', '');
    await page.waitForFunction(() => /temperature is empty or not a number/.test(document.getElementById('critic-message').textContent));
    // An empty corpus: the message names the critic, the text typed stays, the old models stay.
    const typed = 'just my own words\n';
    await page.fill('#critic-reviews-0', typed);
    await page.fill('#critic-reviews-1', '   \n');
    await page.click('#critic-learn');
    await page.waitForFunction(() => /The Grump: data: there are no reviews to learn from/.test(document.getElementById('critic-message').textContent));
    assert.equal(await page.inputValue('#critic-reviews-0'), typed);
    await page.click('#critic-sample-1');
    await page.waitForFunction(() => document.querySelectorAll('#critic-samples li').length === 1);
    // A reload keeps what was typed; "Restore the original reviews" brings them back.
    await page.reload();
    await waitForStatus(page, ['Ready']);
    await page.waitForFunction(() => document.getElementById('critic-reviews-0').value.startsWith('just my own words'));
    await page.click('#critic-original');
    await learned(page);
    // Only unknown words, and a context never seen.
    await page.fill('#critic-review', 'zyx qwv plumb');
    await page.click('#critic-score');
    await page.waitForFunction(() => /Every word is unknown to both critics/.test(document.getElementById('critic-verdict').textContent));
    assert.match(await text(page, 'critic-scores'), /Not in the vocabulary, scored as the unknown token: zyx, qwv, plumb/);
    await page.fill('#critic-context-1', 'zebra');
    await page.fill('#critic-context-2', 'crossing');
    await page.press('#critic-context-2', 'Tab');
    await page.waitForFunction(() => /never wrote “zebra” “crossing”: smoothing gives every one of the 64 possible next words 1\/64/.test(document.getElementById('critic-table-note').textContent));
    // Empty inputs get a note, not an error.
    await page.fill('#critic-review', '');
    await page.click('#critic-score');
    await page.waitForFunction(() => /Type a review to score/.test(document.getElementById('critic-message').textContent));
  });
});
