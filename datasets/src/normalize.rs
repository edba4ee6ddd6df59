//! The key that decides whether two tweets are the same tweet.

/// Lower-case; URLs, @mentions and punctuation removed; whitespace collapsed.
pub fn normalize(text: &str) -> String {
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        let lower = word.to_lowercase();
        if lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("www.")
            || lower.starts_with('@')
        {
            continue;
        }
        let kept: String = lower.chars().filter(|c| !is_punctuation(*c)).collect();
        if !kept.is_empty() {
            words.push(kept);
        }
    }
    words.join(" ")
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c, '\u{00A1}'..='\u{00BF}' | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}' | '\u{3000}'..='\u{303F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_mentions_punctuation_case_and_spacing_do_not_count() {
        let a = normalize("@user Can't WAIT for Friday!!! https://t.co/abc");
        let b = normalize("cant wait for   friday… @someone_else http://t.co/xyz");
        assert_eq!(a, "cant wait for friday");
        assert_eq!(a, b);
    }

    #[test]
    fn words_emoji_and_hashtag_words_are_kept() {
        assert_eq!(normalize("Love it 😍 #Blessed"), "love it 😍 blessed");
        assert_eq!(normalize("  ...  "), "");
    }
}
