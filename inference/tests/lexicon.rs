//! The pinned profanity word list through the lexical detector.

mod common;

use eiq_inference::Lexicon;
use eiq_models::{Catalogue, FetchOptions, FileRole, fetch_with_dependencies};

#[test]
fn the_pinned_word_list_catches_obfuscated_profanity_with_spans() {
    let catalogue = Catalogue::builtin().unwrap();
    let cache = common::cache();
    fetch_with_dependencies(&catalogue, &cache, "profanity-wordlist", &FetchOptions::default()).unwrap();
    let resolved = cache.resolve(&catalogue, "profanity-wordlist").unwrap();
    let lexicon = Lexicon::from_lines(&std::fs::read_to_string(resolved.path(FileRole::Wordlist).unwrap()).unwrap());
    assert!(lexicon.len() > 900, "{}", lexicon.len());

    let text = "Launch day!! This is BULLSH1T, what the f.u.c.k, total a s s hat";
    let found: Vec<&str> = lexicon.find(text).iter().map(|m| &text[m.span.clone()]).collect();
    assert!(found.contains(&"BULLSH1T"), "{found:?}");
    assert!(found.contains(&"f.u.c.k"), "{found:?}");
    assert!(found.contains(&"a s s"), "{found:?}");
    // A match names the plainest spelling of what it matched.
    let entries: Vec<String> = lexicon.find("what the fuuuck").into_iter().map(|m| m.entry).collect();
    assert_eq!(entries, ["fuck"]);
    for clean in ["Our spring collection drops Friday", "Scunthorpe class assignment", "I passed the exam"] {
        assert!(lexicon.find(clean).is_empty(), "{clean}: {:?}", lexicon.find(clean));
    }
}
