//! One text or an array of texts, as OpenAI-style endpoints accept them.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// A JSON string or array of strings; token arrays and other types are refused with a message
/// that names the item.
#[derive(Debug)]
pub struct Texts(pub Vec<String>);

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Self(vec![text])),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| match item {
                    Value::String(text) => Ok(text),
                    Value::Number(_) | Value::Array(_) => Err(D::Error::custom(format!(
                        "item {index} is a token array; send text, this server tokenizes it"
                    ))),
                    _ => Err(D::Error::custom(format!("item {index} must be a string"))),
                })
                .collect::<Result<_, _>>()
                .map(Self),
            _ => Err(D::Error::custom("expected a string or an array of strings")),
        }
    }
}
