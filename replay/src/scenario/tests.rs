use super::*;
use aivm_core::tasks::TaskStatus;
use aivm_core::types::TaskId;

const E18: &str = "10_000_000_000_000_000_000";

fn small() -> String {
    format!(
        r#"{{
  "name": "small",
  "genesis": {{ "balances": {{ "alice": "{E18}", "bob": "{E18}" }}, "config": {{ "challengeWindowBlocks": 3, "teeChallengeWindowBlocks": 1 }} }},
  "blocks": [
    {{ "txs": [
      {{ "from": "bob", "action": "register_provider", "label": "p1", "models": ["qwen3-8b"], "bond": "2_000_000_000_000_000_000" }},
      {{ "from": "alice", "action": "transfer", "to": "carol", "amount": 5, "expect": "applied" }},
      {{ "from": "alice", "action": "submit_task", "label": "t1", "model": "qwen3-8b", "fee": 5000000 }}
    ] }},
    {{ "expect": {{ "tasks": {{ "t1": {{ "status": "assigned", "provider": "p1" }} }} }} }},
    {{ "txs": [ {{ "from": "bob", "action": "submit_result", "task": "t1", "output": "42" }} ] }},
    {{ "advance": 3, "expect": {{ "tasks": {{ "alice#1": "completed" }}, "balances": {{ "carol": 5 }} }} }}
  ]
}}"#
    )
}

fn invalid_at(json: &str) -> (String, String) {
    match parse(json) {
        Err(ScenarioError::Invalid { path, message }) => (path, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn runs_and_passes() {
    let s = parse(&small()).unwrap();
    assert_eq!(s.block_count(), 6);
    let r = run(&s).unwrap();
    assert!(r.passed(), "{}", r.render_text());
    assert_eq!(r.blocks.len(), 6);
    assert_eq!(r.final_height, 6);
    let text = r.render_text();
    assert!(text.contains("TaskFinalized { task: t1"), "{text}");
    assert!(text.contains("PASSED"), "{text}");
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"passed\":true"));
}

#[test]
fn nonces_count_earlier_txs_and_labels_bind_to_them() {
    let s = parse(&small()).unwrap();
    let (_, blocks, _) = compile(&s).unwrap();
    let nonces: Vec<u64> = blocks[0].txs.iter().map(|t| t.body.nonce).collect();
    assert_eq!(nonces, [0, 0, 1]);
    let (g, _, _) = compile(&s).unwrap();
    let mut chain = aivm_core::chain::Chain::new(g).unwrap();
    for b in &blocks {
        chain.apply(b.clone()).unwrap();
    }
    let t1 = TaskId::derive(&aivm_core::tx::address_from_name("alice"), 1);
    assert_eq!(chain.state.task(&t1).unwrap().status, TaskStatus::Completed);
}

#[test]
fn deterministic() {
    let s = parse(&small()).unwrap();
    let (g1, b1, o1) = compile(&s).unwrap();
    let (g2, b2, o2) = compile(&parse(&small()).unwrap()).unwrap();
    assert_eq!((g1, b1, o1), (g2, b2, o2));
}

#[test]
fn unmet_expectations_fail_the_report_not_the_run() {
    let json = small().replace(
        r#""balances": { "carol": 5 }"#,
        r#""balances": { "carol": 6 }"#,
    );
    let json = json.replace(
        r#""to": "carol", "amount": 5, "expect": "applied""#,
        r#""to": "carol", "amount": 5, "expect": { "failed": "ZeroAmount" }"#,
    );
    let r = run(&parse(&json).unwrap()).unwrap();
    assert!(!r.passed());
    let failed: Vec<&CheckReport> = r.failed_checks().collect();
    assert_eq!(failed.len(), 2, "{}", r.render_text());
    assert_eq!(failed[0].path, "blocks[0].txs[1].expect");
    assert_eq!(failed[0].expected, "failed: ZeroAmount");
    assert_eq!(failed[0].actual, "applied");
    assert_eq!(failed[1].path, "blocks[3].expect.balances[\"carol\"]");
    assert_eq!(
        (failed[1].expected.as_str(), failed[1].actual.as_str()),
        ("6", "5")
    );
    assert!(r.render_text().contains("FAIL"));
}

#[test]
fn errors_name_where() {
    match parse("{\n  \"blocks\": [\n    {]\n}") {
        Err(ScenarioError::Json { line, .. }) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
    let (path, msg) = invalid_at(
        r#"{"blocks": [{"txs": [{"from": "a", "action": "transfer", "to": "b", "amount": true}]}]}"#,
    );
    assert_eq!(path, "blocks[0].txs[0].amount");
    assert!(msg.contains("amount"), "{msg}");
    let (path, msg) = invalid_at(r#"{"blocks": [], "blokcs": []}"#);
    assert_eq!(path, "blokcs");
    assert!(msg.contains("unknown field"), "{msg}");
    let (path, msg) = invalid_at(
        r#"{"blocks": [{"txs": [{"from": "a", "action": "submit_result", "task": "t9", "output": "x"}]}]}"#,
    );
    assert_eq!(path, "blocks[0].txs[0].task");
    assert!(msg.contains("t9"), "{msg}");
    let (path, _) = invalid_at(r#"{"blocks": [{"txs": [{"from": "a", "action": "fly"}]}]}"#);
    assert_eq!(path, "blocks[0].txs[0].action");
    let (path, _) = invalid_at(r#"{"blocks": [{"advance": 600000}, {"advance": 600000}]}"#);
    assert_eq!(path, "blocks[1].advance");
    let (path, msg) =
        invalid_at(r#"{"genesis": {"config": {"challengeWindowBlocks": 0}}, "blocks": []}"#);
    assert_eq!(path, "genesis");
    assert!(msg.contains("config"), "{msg}");
    let (path, _) =
        invalid_at(r#"{"blocks": [{"expect": {"balances": {"a": 18446744073709551616}}}]}"#);
    assert_eq!(path, "blocks[0].expect.balances.a");
    let (path, _) = invalid_at(
        r#"{"blocks": [{"txs": [{"from": "a", "action": "unbond", "provider": "p1", "label": "x"}]}]}"#,
    );
    assert_eq!(path, "blocks[0].txs[0].provider");
}

#[test]
fn build_errors_name_the_entry_and_height() {
    let json = r#"{"blocks": [{"txs": [{"from": "a", "action": "submit_result", "task": "a#0", "output": "x"}]}]}"#;
    match run(&parse(json).unwrap()) {
        Err(ScenarioError::Build {
            path,
            height,
            message,
        }) => {
            assert_eq!((path.as_str(), height), ("blocks[0].txs[0]", 1));
            assert!(message.contains("no assigned provider"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let json = r#"{"blocks": [{"time_ms": 100}, {"time_ms": 50}]}"#;
    match run(&parse(json).unwrap()) {
        Err(ScenarioError::Build { path, height, .. }) => {
            assert_eq!((path.as_str(), height), ("blocks[1]", 2))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn never_panics_on_mangled_input() {
    let text = small();
    let bytes = text.as_bytes();
    for cut in (0..bytes.len()).step_by(7) {
        let _ = parse(&String::from_utf8_lossy(&bytes[..cut]));
    }
    for i in (0..bytes.len()).step_by(3) {
        for b in [b'"', b'{', b']', b'0', b'#', b'-', 0xff] {
            let mut m = bytes.to_vec();
            m[i] = b;
            let _ = parse(&String::from_utf8_lossy(&m));
        }
    }
    let deep = "[".repeat(100_000);
    assert!(parse(&deep).is_err());
    let wide = format!(r#"{{"blocks": [{}]}}"#, vec!["{}"; 10_001].join(","));
    assert!(matches!(parse(&wide), Err(ScenarioError::Invalid { .. })));
}

#[test]
fn write_log_roundtrips_and_replaces() {
    let s = parse(&small()).unwrap();
    let (g, blocks, outcomes) = compile(&s).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.aivmlog");
    std::fs::write(&path, b"old").unwrap();
    write_log(&path, &g, &blocks, &outcomes).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (header, frames) = crate::log::read_all(&bytes, Default::default()).unwrap();
    assert_eq!(header.chain_id, g.chain_id);
    assert_eq!(header.genesis, encode(&g));
    assert_eq!(frames.len(), blocks.len());
    for ((f, b), o) in frames.iter().zip(&blocks).zip(&outcomes) {
        assert_eq!(f.block, encode(b));
        assert_eq!(f.outcome, encode(o));
        assert_eq!(
            (f.state_root, f.results_root),
            (o.state_root, o.results_root)
        );
    }
    assert!(!dir.path().join("small.aivmlog.partial").exists());
    let err = write_log(&path, &g, &blocks, &outcomes[1..]).unwrap_err();
    assert!(matches!(err, ScenarioError::Mismatch(_)));
}
