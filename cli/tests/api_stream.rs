//! `GET /executions/{id}/events/stream`: events live and in order, resume after a seq or
//! a `Last-Event-ID`, the final `end` record, replay of ended executions, and clients that
//! go away mid-stream.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const SLOW: &str = "for (let i = 0; i < 4; i++) { console.log('tick ' + i); const t = Date.now(); while (Date.now() - t < 150) {} } 'done'";

fn start(daemon: &Daemon, session: &str, input: &str) -> String {
    let r = daemon.http.post(
        "/executions/repl",
        &json!({"session_id": session, "input": input, "wait": false}).to_string(),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    r.json["id"].as_str().unwrap().to_string()
}

#[test]
fn events_arrive_live_in_order_then_the_end_record() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let id = start(&daemon, &s, SLOW);
    let mut stream = SseReader::open(
        &daemon.addr,
        &format!("/executions/{id}/events/stream"),
        &[],
    );
    assert_eq!(stream.status(), 200);
    assert!(stream
        .head
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-type: text/event-stream")));
    let first_console = loop {
        let e = stream.next_event().expect("stream ended early");
        if e.event == "console" {
            break e;
        }
    };
    // It came while the execution was still running: live, not after the fact.
    assert_eq!(
        daemon.http.get(&format!("/executions/{id}")).json["status"],
        "running"
    );
    assert_eq!(first_console.json()["payload"]["text"], "tick 0");
    let mut events = vec![first_console];
    events.extend(stream.all());
    let end = events.pop().unwrap();
    assert_eq!(end.event, "end");
    assert_eq!(end.id, None);
    let record = end.json();
    assert_eq!(record["id"], id.as_str());
    assert_eq!(record["status"], "ok");
    assert_eq!(record["result"]["json"], "done");
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e.id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    for e in &events {
        let data = e.json();
        assert_eq!(data["type"], e.event.as_str());
        assert_eq!(data["seq"].to_string(), *e.id.as_ref().unwrap());
    }
    // The stream's events are the stored ones.
    let stored = daemon
        .http
        .get(&format!("/executions/{id}/events?after_seq=1"));
    let stored: Vec<serde_json::Value> = stored.json.as_array().unwrap().clone();
    let streamed: Vec<serde_json::Value> = events.iter().map(|e| e.json()).collect();
    assert_eq!(streamed, stored);
}

#[test]
fn resume_after_a_seq_or_a_last_event_id() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let id = start(&daemon, &s, SLOW);
    let mut stream = SseReader::open(
        &daemon.addr,
        &format!("/executions/{id}/events/stream?after_seq=3"),
        &[],
    );
    let seqs: Vec<String> = stream.all().iter().filter_map(|e| e.id.clone()).collect();
    assert_eq!(seqs, ["4", "5", "6"]);
    // Ended: the replay and the end come at once.
    let started = Instant::now();
    let mut stream = SseReader::open(
        &daemon.addr,
        &format!("/executions/{id}/events/stream?after_seq=1"),
        &["Last-Event-ID: 5"],
    );
    let events = stream.all();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].id.as_deref(), Some("6"));
    assert_eq!(events[1].event, "end");
    let mut stream = SseReader::open(
        &daemon.addr,
        &format!("/executions/{id}/events/stream"),
        &[],
    );
    assert_eq!(stream.all().len(), 7);
}

#[test]
fn bad_streams_answer_the_envelope() {
    let daemon = Daemon::start();
    let unknown = "00000000-0000-4000-8000-000000000000";
    daemon
        .http
        .get(&format!("/executions/{unknown}/events/stream"))
        .assert_error(404, "EXECUTION_NOT_FOUND");
    daemon
        .http
        .get("/executions/nope/events/stream")
        .assert_error(400, "VALIDATION_ERROR");
    let (_, s) = daemon.ready_session();
    let done = daemon.http.repl(&s, "1");
    let id = done.json["id"].as_str().unwrap();
    daemon
        .http
        .get(&format!("/executions/{id}/events/stream?after_seq=x"))
        .assert_error(400, "VALIDATION_ERROR");
    daemon
        .http
        .request(
            "GET",
            &format!("/executions/{id}/events/stream"),
            None,
            &[("Last-Event-ID", "abc")],
        )
        .assert_error(400, "VALIDATION_ERROR");
}

#[test]
fn many_followers_and_clients_that_leave_hurt_nothing() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let id = start(&daemon, &s, SLOW);
    let path = format!("/executions/{id}/events/stream");
    // Clients that read one event and hang up.
    for _ in 0..5 {
        let mut quitter = SseReader::open(&daemon.addr, &path, &[]);
        assert!(quitter.next_event().is_some());
        drop(quitter);
    }
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let addr = daemon.addr.clone();
            let path = path.clone();
            std::thread::spawn(move || SseReader::open(&addr, &path, &[]).all())
        })
        .collect();
    for r in readers {
        let events = r.join().unwrap();
        assert_eq!(events.len(), 7);
        assert_eq!(events.last().unwrap().json()["status"], "ok");
    }
    // The daemon and the session are fine.
    assert_eq!(daemon.http.repl(&s, "2 + 2").json["result"]["json"], 4);
}

#[test]
fn a_cancelled_run_ends_the_stream_with_its_record() {
    let daemon = Daemon::start();
    let (_, s) = daemon.ready_session();
    let id = start(&daemon, &s, "console.log('spin'); while (true) {}");
    let mut stream = SseReader::open(
        &daemon.addr,
        &format!("/executions/{id}/events/stream"),
        &[],
    );
    let first = stream.next_event().unwrap();
    assert_eq!(first.event, "input_echo");
    daemon.http.post(&format!("/executions/{id}/cancel"), "{}");
    let rest = stream.all();
    let end = rest.last().unwrap();
    assert_eq!(end.event, "end");
    assert_eq!(end.json()["status"], "cancelled");
    assert!(rest.iter().any(|e| e.event == "system"));
}
