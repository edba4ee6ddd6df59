// Runs the reference twitter-text on every text of a JSON array (the file named by the first
// argument) and prints what it finds, for datasets/tests/twitter_text.rs to compare with ours.
'use strict';
const fs = require('fs');
const twitter = require('twitter-text');
const twemoji = require('twemoji-parser');

const texts = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const answers = texts.map((text) => {
  const tweet = twitter.parseTweet(text);
  return {
    weighted_length: tweet.weightedLength,
    valid: tweet.valid,
    hashtags: twitter.extractHashtags(text),
    mentions: twitter.extractMentions(text),
    urls: twitter.extractUrls(text),
    // Multi-code-point emoji of the NFC text, as the weighted length sees them.
    emoji: twemoji.parse(text.normalize()).map((e) => e.text).filter((e) => [...e].length > 1),
  };
});
process.stdout.write(JSON.stringify(answers));
