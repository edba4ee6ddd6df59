//! Words of a post for matching hashtags: lower-cased tokens without stopwords, links or
//! mentions, and the readable CamelCase a suggested tag is written in.

use std::collections::HashSet;
use std::sync::LazyLock;

/// English function words, which never make a topic (the usual short list of IR systems).
const STOPWORDS: &str = "a about above after again against all am an and any are as at be because been before being \
below between both but by can could did do does doing down during each few for from further had has have having he \
her here hers herself him himself his how i if in into is it its itself just let me more most my myself no nor not \
now of off on once only or other our ours ourselves out over own same she should so some such than that the their \
theirs them themselves then there these they this those through to too under until up very was we were what when \
where which while who whom why will with would you your yours yourself yourselves amp rt via im dont cant wont its \
thats get got go going one like new today day via us also";

static STOP: LazyLock<HashSet<&'static str>> = LazyLock::new(|| STOPWORDS.split_whitespace().collect());

pub fn is_stopword(word: &str) -> bool {
    STOP.contains(word)
}

/// A token of a post as written (for CamelCase) and lower-cased (for matching).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub written: String,
    pub lower: String,
}

/// Alphanumeric runs of `text` (apostrophes dropped), skipping URLs, @mentions and #tags; at
/// most `limit` tokens.
pub fn tokens(text: &str, limit: usize) -> Vec<Token> {
    let mut out = Vec::new();
    for piece in text.split_whitespace() {
        if out.len() >= limit {
            break;
        }
        if piece.starts_with(['@', '#', '＃']) || piece.contains("://") || piece.starts_with("www.") {
            continue;
        }
        for run in piece.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’')) {
            let written: String = run.chars().filter(|c| c.is_alphanumeric()).collect();
            if written.chars().count() < 2 || written.chars().all(|c| c.is_numeric()) {
                continue;
            }
            out.push(Token { lower: written.to_lowercase(), written });
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// The lower-cased content words of `text`: tokens that are not stopwords.
pub fn content_words(text: &str, limit: usize) -> Vec<String> {
    tokens(text, limit).into_iter().map(|t| t.lower).filter(|w| !is_stopword(w)).collect()
}

/// A phrase as a hashtag body: each word capitalised (`climate action` → `ClimateAction`),
/// words written in capitals kept so (`NASA`).
pub fn camel_case(words: &[Token]) -> String {
    let mut tag = String::new();
    for word in words {
        let upper = word.written.chars().count() > 1 && word.written.chars().all(|c| !c.is_lowercase());
        if upper {
            tag.push_str(&word.written);
            continue;
        }
        let mut chars = word.lower.chars();
        if let Some(first) = chars.next() {
            tag.extend(first.to_uppercase());
            tag.push_str(chars.as_str());
        }
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_skip_links_mentions_and_tags() {
        let words: Vec<String> = tokens("Join @ana at https://x.co #Climate: NASA's 2025 plan!", 100)
            .into_iter()
            .map(|t| t.written)
            .collect();
        assert_eq!(words, ["Join", "at", "NASAs", "plan"]);
        assert_eq!(content_words("The plan for the planet", 100), ["plan", "planet"]);
    }

    #[test]
    fn phrases_read_as_camel_case() {
        let phrase = tokens("climate ACTION now", 100);
        assert_eq!(camel_case(&phrase), "ClimateACTIONNow");
        assert_eq!(camel_case(&tokens("act on climate", 100)), "ActOnClimate");
    }
}
