//! Human-readable rendering: ids and hashes replaced by the names the scenario
//! gave them, error and event kinds, and the text form of a report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aivm_core::types::hex;

use super::{BlockReport, CheckReport, ScenarioReport};

/// Names of the 32-byte values a scenario knows: actors, tasks, providers, texts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    full: BTreeMap<[u8; 32], String>,
    /// By the 16 hex digits the core's `Debug` of an id prints.
    prefix: BTreeMap<String, String>,
}

impl Names {
    pub fn insert(&mut self, bytes: [u8; 32], name: String) {
        self.prefix
            .entry(hex(&bytes[..8]))
            .or_insert_with(|| name.clone());
        self.full.entry(bytes).or_insert(name);
    }

    /// The name of `bytes`, or its short hex.
    pub fn of(&self, bytes: &[u8; 32]) -> String {
        self.full
            .get(bytes)
            .cloned()
            .unwrap_or_else(|| format!("0x{}…", hex(&bytes[..8])))
    }

    /// The `Debug` text of a core value with every id and 32-byte array it
    /// contains replaced by its name (or short hex).
    pub fn debug<T: std::fmt::Debug>(&self, value: &T) -> String {
        self.substitute(&format!("{value:?}"))
    }

    fn substitute(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while !rest.is_empty() {
            if let Some((text, len)) = self.id_at(rest).or_else(|| self.bytes_at(rest)) {
                out.push_str(&text);
                rest = rest.get(len..).unwrap_or("");
                continue;
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
        out
    }

    /// `Address(0123456789abcdef)` and the like, at the start of `s`.
    fn id_at(&self, s: &str) -> Option<(String, usize)> {
        for prefix in ["Address(", "TaskId(", "ProviderId("] {
            let Some(after) = s.strip_prefix(prefix) else {
                continue;
            };
            let digits = after.get(..16)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) || after.get(16..17) != Some(")") {
                return None;
            }
            let name = self
                .prefix
                .get(digits)
                .cloned()
                .unwrap_or_else(|| format!("0x{digits}…"));
            return Some((name, prefix.len() + 17));
        }
        None
    }

    /// A `Debug`-printed `[u8; 32]` at the start of `s`.
    fn bytes_at(&self, s: &str) -> Option<(String, usize)> {
        let inner = s.strip_prefix('[')?;
        let end = inner.find(']')?;
        let body = inner.get(..end)?;
        let mut bytes = [0u8; 32];
        let mut count = 0usize;
        for part in body.split(", ") {
            let slot = bytes.get_mut(count)?;
            *slot = part.parse().ok()?;
            count += 1;
        }
        if count != 32 {
            return None;
        }
        let text = match self.full.get(&bytes) {
            Some(name) => format!("{name:?}"),
            None => format!("0x{}…", hex(&bytes[..8])),
        };
        Some((text, end + 2))
    }
}

/// Variant names of a `Debug`-printed enum value, outermost first:
/// `Auth(BadSignature)` gives `["Auth", "BadSignature"]`, `BadNonce { .. }` gives `["BadNonce"]`.
pub(crate) fn kind_path(debug: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = debug;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let ident = rest.get(..end).unwrap_or("");
        if ident.is_empty() || !ident.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        out.push(ident.to_string());
        match rest.get(end..).and_then(|r| r.strip_prefix('(')) {
            Some(next) => rest = next,
            None => break,
        }
    }
    out
}

/// Whether an expected kind (`Auth`, `Auth.BadSignature`, `BadSignature`) names `actual`.
pub(crate) fn kind_matches(expected: &str, actual: &[String]) -> bool {
    let want: Vec<&str> = expected.split('.').collect();
    let prefix = want.len() <= actual.len() && want.iter().zip(actual).all(|(w, a)| *w == a);
    let leaf = want.len() == 1 && actual.last().is_some_and(|a| a == expected);
    prefix || leaf
}

/// Amounts are grouped by thousands for reading (`1_000_000`).
pub(crate) fn amount(a: u128) -> String {
    let digits = a.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    out
}

fn block_is_quiet(b: &BlockReport) -> bool {
    b.txs.is_empty() && b.end_events.is_empty() && !b.anchored
}

pub(crate) fn report_text(r: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario {}", r.name);
    if !r.description.is_empty() {
        let _ = writeln!(out, "  {}", r.description);
    }
    let _ = writeln!(out, "chain {} genesis {}", r.chain_id, r.genesis_hash);
    let mut i = 0;
    while let Some(b) = r.blocks.get(i) {
        let quiet = r.blocks[i..]
            .iter()
            .take_while(|b| block_is_quiet(b))
            .count();
        if quiet >= 2 {
            let last = &r.blocks[i + quiet - 1];
            let _ = writeln!(
                out,
                "blocks {}..={}: {quiet} empty blocks, no events\n  state root   {}\n  results root {}",
                b.height, last.height, last.state_root, last.results_root
            );
            i += quiet;
            continue;
        }
        block_text(&mut out, b);
        i += 1;
    }
    let _ = writeln!(out, "checks");
    if r.checks.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for c in &r.checks {
        check_text(&mut out, c);
    }
    let failed = r.checks.iter().filter(|c| !c.passed).count();
    let _ = writeln!(
        out,
        "{}: {} blocks, {} checks, {} passed, {} failed",
        if failed == 0 { "PASSED" } else { "FAILED" },
        r.blocks.len(),
        r.checks.len(),
        r.checks.len() - failed,
        failed
    );
    out
}

fn block_text(out: &mut String, b: &BlockReport) {
    let _ = writeln!(
        out,
        "block {} at {} ms ({}), id {}",
        b.height, b.time_ms, b.source, b.block_id
    );
    for t in &b.txs {
        let _ = writeln!(
            out,
            "  tx {} {} {}: {} (fee {}, hash {})",
            t.index,
            t.from,
            t.action,
            t.status,
            amount(t.fee.parse().unwrap_or(0)),
            t.hash.get(..16).unwrap_or(&t.hash)
        );
        for e in &t.events {
            let _ = writeln!(out, "      {e}");
        }
    }
    if !b.end_events.is_empty() {
        let _ = writeln!(out, "  block end:");
        for e in &b.end_events {
            let _ = writeln!(out, "      {e}");
        }
    }
    if b.anchored {
        let _ = writeln!(out, "  anchored");
    }
    let _ = writeln!(
        out,
        "  state root   {}\n  results root {}",
        b.state_root, b.results_root
    );
}

fn check_text(out: &mut String, c: &CheckReport) {
    let mark = if c.passed { "ok  " } else { "FAIL" };
    if c.passed {
        let _ = writeln!(out, "  {mark} height {} {}: {}", c.height, c.what, c.actual);
    } else {
        let _ = writeln!(
            out,
            "  {mark} height {} {} ({}): expected {}, got {}",
            c.height, c.what, c.path, c.expected, c.actual
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_nested_errors() {
        assert_eq!(kind_path("Auth(BadSignature)"), ["Auth", "BadSignature"]);
        assert_eq!(kind_path("BadNonce { expected: 1, got: 2 }"), ["BadNonce"]);
        assert_eq!(kind_path("UnknownModel(\"x\")"), ["UnknownModel"]);
        assert_eq!(kind_path("NotAssigned"), ["NotAssigned"]);
        let p = kind_path("Attestation(Expired { expires_at_ms: 1, now_ms: 2 })");
        assert!(kind_matches("Attestation", &p));
        assert!(kind_matches("Attestation.Expired", &p));
        assert!(kind_matches("Expired", &p));
        assert!(!kind_matches("Expired.Attestation", &p));
        assert!(!kind_matches("TooOld", &p));
    }

    #[test]
    fn names_replace_ids_and_hashes() {
        let mut n = Names::default();
        n.insert([7u8; 32], "alice".into());
        let s = format!(
            "{:?}",
            ([7u8; 32], aivm_core::types::Address([7u8; 32]), 5u8)
        );
        assert_eq!(n.substitute(&s), "(\"alice\", alice, 5)");
        assert_eq!(amount(1_234_567), "1_234_567");
        assert_eq!(amount(12), "12");
    }
}
