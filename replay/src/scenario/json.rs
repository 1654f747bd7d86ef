//! A small typed walk over `serde_json::Value` that keeps the JSON path of
//! every value, so each error names exactly where the scenario is wrong.

use serde_json::{Map, Value};

use super::ScenarioError;
use aivm_core::config::parse_amount;
use aivm_core::types::{parse_hex, Amount, Hash};

/// An object whose keys are checked off as they are read; `finish` refuses the rest.
pub(crate) struct Obj<'a> {
    pub path: String,
    map: &'a Map<String, Value>,
    /// Every key asked for, present or not: the fields this object may have.
    asked: Vec<&'static str>,
}

/// A value and where it is.
pub(crate) struct At<'a> {
    pub path: String,
    pub v: &'a Value,
}

pub(crate) fn invalid(path: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        path: if path.is_empty() {
            "(top level)".into()
        } else {
            path.to_string()
        },
        message: message.into(),
    }
}

/// What a value is, for "expected X, found Y" messages.
pub(crate) fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("the string {short:?}")
        }
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn child_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

impl<'a> At<'a> {
    fn expected(&self, what: &str) -> ScenarioError {
        invalid(
            &self.path,
            format!("expected {what}, found {}", kind_of(self.v)),
        )
    }

    pub fn obj(&self) -> Result<Obj<'a>, ScenarioError> {
        match self.v {
            Value::Object(map) => Ok(Obj {
                path: self.path.clone(),
                map,
                asked: Vec::new(),
            }),
            _ => Err(self.expected("an object")),
        }
    }

    /// The elements of an array of at most `max` elements.
    pub fn arr(&self, max: usize) -> Result<Vec<At<'a>>, ScenarioError> {
        let Value::Array(items) = self.v else {
            return Err(self.expected("an array"));
        };
        if items.len() > max {
            return Err(invalid(
                &self.path,
                format!("{} elements, at most {max} are allowed", items.len()),
            ));
        }
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| At {
                path: format!("{}[{i}]", self.path),
                v,
            })
            .collect())
    }

    /// The entries of an object used as a map (keys are data, not field names), by key.
    pub fn entries(&self, max: usize) -> Result<Vec<(&'a str, At<'a>)>, ScenarioError> {
        let Value::Object(map) = self.v else {
            return Err(self.expected("an object"));
        };
        if map.len() > max {
            return Err(invalid(
                &self.path,
                format!("{} entries, at most {max} are allowed", map.len()),
            ));
        }
        let mut out: Vec<(&'a str, At<'a>)> = map
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    At {
                        path: child_path(&self.path, k),
                        v,
                    },
                )
            })
            .collect();
        // Key order, whatever map serde_json was built with (`preserve_order` keeps
        // text order): the genesis balances' order is part of the genesis hash.
        out.sort_by(|a, b| a.0.cmp(b.0));
        Ok(out)
    }

    pub fn str(&self) -> Result<&'a str, ScenarioError> {
        self.v.as_str().ok_or_else(|| self.expected("a string"))
    }

    /// A string of at most `max` bytes.
    pub fn text(&self, max: usize) -> Result<String, ScenarioError> {
        let s = self.str()?;
        if s.len() > max {
            return Err(invalid(
                &self.path,
                format!("{} bytes long, at most {max} are allowed", s.len()),
            ));
        }
        Ok(s.to_string())
    }

    pub fn bool(&self) -> Result<bool, ScenarioError> {
        self.v
            .as_bool()
            .ok_or_else(|| self.expected("true or false"))
    }

    pub fn u64(&self) -> Result<u64, ScenarioError> {
        match self.v {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| self.expected("a non-negative integer below 2^64")),
            Value::String(s) => parse_amount(&s.replace('_', ""))
                .ok()
                .and_then(|a| u64::try_from(a).ok())
                .ok_or_else(|| self.expected("a non-negative integer below 2^64")),
            _ => Err(self.expected("a non-negative integer")),
        }
    }

    pub fn u32(&self) -> Result<u32, ScenarioError> {
        u32::try_from(self.u64()?).map_err(|_| self.expected("an integer below 2^32"))
    }

    pub fn u8(&self) -> Result<u8, ScenarioError> {
        u8::try_from(self.u64()?).map_err(|_| self.expected("an integer from 0 to 255"))
    }

    /// An amount: an integer, or a decimal string (underscores allowed as separators)
    /// for values JSON numbers cannot hold exactly.
    pub fn amount(&self) -> Result<Amount, ScenarioError> {
        match self.v {
            Value::Number(n) => n.as_u64().map(Amount::from).ok_or_else(|| {
                self.expected(
                    "a non-negative integer (write amounts of 2^64 or more as decimal strings)",
                )
            }),
            Value::String(s) => {
                parse_amount(&s.replace('_', "")).map_err(|e| invalid(&self.path, e.to_string()))
            }
            _ => Err(self.expected("an amount (a decimal string or an integer)")),
        }
    }

    /// A duration: milliseconds as an integer, or a Go-style string (`"2s"`, `"5m"`).
    pub fn duration_ms(&self) -> Result<u64, ScenarioError> {
        match self.v {
            Value::String(s) => aivm_core::config::parse_duration_ms(s)
                .map_err(|e| invalid(&self.path, e.to_string())),
            _ => self.u64(),
        }
    }

    /// 32 bytes: `0x` and 64 hex digits, or any other string, which stands for
    /// its hash under [`text_hash`].
    pub fn hash(&self) -> Result<(Hash, Option<String>), ScenarioError> {
        let s = self.str()?;
        if s.starts_with("0x") {
            let h = parse_hex::<32>(s).ok_or_else(|| {
                invalid(&self.path, "0x must be followed by exactly 64 hex digits")
            })?;
            return Ok((h, None));
        }
        if s.len() > 1024 {
            return Err(invalid(
                &self.path,
                "text to hash is longer than 1024 bytes",
            ));
        }
        Ok((text_hash(s), Some(s.to_string())))
    }
}

/// The hash a scenario's text stands for: `blake3::derive_key("aivm scenario text v1", text)`.
pub fn text_hash(text: &str) -> Hash {
    blake3::derive_key("aivm scenario text v1", text.as_bytes())
}

impl<'a> Obj<'a> {
    pub fn opt(&mut self, key: &'static str) -> Option<At<'a>> {
        self.asked.push(key);
        let v = self.map.get(key)?;
        Some(At {
            path: child_path(&self.path, key),
            v,
        })
    }

    pub fn req(&mut self, key: &'static str) -> Result<At<'a>, ScenarioError> {
        self.opt(key)
            .ok_or_else(|| invalid(&self.path, format!("missing field `{key}`")))
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Refuses every key that was not read: a typo never falls back to a default.
    pub fn finish(self) -> Result<(), ScenarioError> {
        match self.map.keys().find(|k| !self.asked.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => {
                let mut known = self.asked.clone();
                known.sort_unstable();
                known.dedup();
                Err(invalid(
                    &child_path(&self.path, k),
                    format!(
                        "unknown field `{k}` (expected one of: {})",
                        known.join(", ")
                    ),
                ))
            }
        }
    }
}
