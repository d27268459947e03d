use super::*;
use crate::routing::ids::PeerId;

fn ev(n: u64) -> ServerEvent {
    ServerEvent::OfferExpired {
        room: PeerId::Int(n as i64),
    }
}

fn msg(text: &str) -> ServerEvent {
    ServerEvent::AgentMessage {
        room: PeerId::Str("r".into()),
        message: serde_json::value::RawValue::from_string(text.into()).unwrap(),
        attachments: None,
    }
}

const WIDE: Bounds = Bounds {
    events: 100,
    bytes: 1 << 20,
    connected: 100,
};

#[test]
fn numbers_start_at_one_and_replay_follows_last_seen() {
    let mut o = Outbox::default();
    assert_eq!(o.last_seq(), 0);
    for _ in 0..5 {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), false, WIDE), Pushed::Kept);
    }
    assert_eq!(o.last_seq(), 5);
    let after: Vec<u64> = o.after(2).unwrap().iter().map(|(s, _)| *s).collect();
    assert_eq!(after, vec![3, 4, 5]);
    assert!(o.after(5).unwrap().is_empty());
    let all: Vec<u64> = o.after(0).unwrap().iter().map(|(s, _)| *s).collect();
    assert_eq!(all, vec![1, 2, 3, 4, 5]);
    assert!(o.after(6).is_none(), "ahead of what was sent");
}

#[test]
fn connected_outbox_drops_oldest_and_reports_the_gap() {
    let mut o = Outbox::default();
    let b = Bounds {
        events: 3,
        bytes: 1 << 20,
        connected: 3,
    };
    for _ in 0..5 {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), false, b), Pushed::Kept);
    }
    assert_eq!(o.kept().0, 3);
    assert!(
        o.after(1).is_none(),
        "2 was dropped: a replay from 1 has a gap"
    );
    assert_eq!(o.after(2).unwrap().len(), 3);
}

#[test]
fn held_outbox_overflows_instead_of_dropping_what_was_missed() {
    let mut o = Outbox::default();
    let b = Bounds {
        events: 3,
        bytes: 1 << 20,
        connected: 3,
    };
    // Two sent while connected, then held: those two make room first.
    for held in [false, false, true, true, true] {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), held, b), Pushed::Kept);
    }
    assert_eq!(o.after(2).unwrap().len(), 3);
    let seq = o.next_seq();
    assert_eq!(o.push(seq, &ev(seq), true, b), Pushed::Overflow);
    // Once reconnected, what it kept is handed over (to the shared ring) and it starts over.
    let taken = o.take();
    assert_eq!(
        taken.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        Vec::<u64>::new()
    );
    assert_eq!(o.kept().0, 0);
}

#[test]
fn restore_then_take_round_trips_a_window() {
    let mut o = Outbox::default();
    let b = Bounds {
        events: 10,
        bytes: 1 << 20,
        connected: 3,
    };
    for _ in 0..5 {
        o.next_seq();
    }
    let window: Vec<_> = (3..=5).map(|s| (s, ev(s))).collect();
    o.restore(window, b);
    assert_eq!(o.after(2).map(|w| w.len()), Some(3));
    assert!(o.after(1).is_none(), "1 and 2 were never in the window");
    let seq = o.next_seq();
    assert_eq!(o.push(seq, &ev(seq), true, b), Pushed::Kept);
    let seqs: Vec<u64> = o.take().into_iter().map(|(s, _)| s).collect();
    assert_eq!(seqs, vec![3, 4, 5, 6]);
    // A window that does not end at the last number is not a faithful one: nothing kept.
    o.restore(vec![(2, ev(2))], b);
    assert_eq!(o.kept().0, 0);
}

#[test]
fn byte_bound_counts_event_sizes() {
    let mut o = Outbox::default();
    let one = ev(1).replay_bytes();
    let b = Bounds {
        events: 1000,
        bytes: one * 2,
        connected: 1000,
    };
    for held in [true, true] {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), held, b), Pushed::Kept);
    }
    assert_eq!(o.kept(), (2, one * 2));
    let seq = o.next_seq();
    assert_eq!(o.push(seq, &ev(seq), true, b), Pushed::Overflow);
}

#[test]
fn resume_key_is_a_hash_not_the_token() {
    let k = ResumeKey::of("secret-token");
    assert_eq!(k, ResumeKey::of("secret-token"));
    assert_ne!(k, ResumeKey::of("secret-tokeN"));
    assert!(!format!("{k:?}").contains("secret"));
}

#[test]
fn an_event_not_kept_makes_earlier_replays_gaps() {
    let mut o = Outbox::default();
    for _ in 0..3 {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), false, WIDE), Pushed::Kept);
    }
    // Numbered and not kept (resumes off for a while): nothing before it may be replayed.
    o.next_seq();
    o.skip();
    assert!(o.after(2).is_none());
    assert!(o.after(3).is_none(), "4 was never kept");
    assert_eq!(o.after(4).map(|v| v.len()), Some(0));
    let seq = o.next_seq();
    assert_eq!(o.push(seq, &ev(seq), false, WIDE), Pushed::Kept);
    assert_eq!(o.after(4).map(|v| v.len()), Some(1));
}

#[test]
fn an_overflow_leaves_no_replay_that_skips_the_lost_event() {
    let mut o = Outbox::default();
    let b = Bounds {
        events: 2,
        bytes: 1 << 20,
        connected: 2,
    };
    for _ in 0..2 {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), true, b), Pushed::Kept);
    }
    let seq = o.next_seq();
    assert_eq!(o.push(seq, &ev(seq), true, b), Pushed::Overflow);
    assert!(o.after(0).is_none());
    assert!(o.after(2).is_none(), "3 was lost");
}

#[test]
fn a_connected_party_keeps_the_smaller_window_a_held_one_the_full_bound() {
    let mut o = Outbox::default();
    let b = Bounds {
        events: 10,
        bytes: 1 << 20,
        connected: 3,
    };
    for _ in 0..8 {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), false, b), Pushed::Kept);
    }
    assert_eq!(o.kept().0, 3, "connected: the last 3");
    for _ in 0..7 {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), true, b), Pushed::Kept);
    }
    assert_eq!(o.kept().0, 10, "held: up to 10 (7 missed, 3 from before)");
    let seq = o.next_seq();
    assert_eq!(
        o.push(seq, &ev(seq), true, b),
        Pushed::Kept,
        "an old one makes room"
    );
    for _ in 0..2 {
        let seq = o.next_seq();
        assert_eq!(o.push(seq, &ev(seq), true, b), Pushed::Kept);
    }
    let seq = o.next_seq();
    assert_eq!(
        o.push(seq, &ev(seq), true, b),
        Pushed::Overflow,
        "11 missed"
    );
}

#[test]
fn messages_are_kept_as_text_and_replayed_as_sent() {
    let mut o = Outbox::default();
    let texts = [r#""hi""#, r#"{"a":[1,2,{"b":"\u00e9"}]}"#, "42", r#""é""#];
    for (i, t) in texts.iter().enumerate() {
        let seq = o.next_seq();
        let e = if i == 2 { ev(seq) } else { msg(t) };
        assert_eq!(o.push(seq, &e, false, WIDE), Pushed::Kept);
    }
    let replay = o.after(1).unwrap();
    assert_eq!(replay.len(), 3);
    let data: Vec<String> = replay
        .iter()
        .map(|(_, e)| {
            let mut b = Vec::new();
            e.write_data(&mut b);
            String::from_utf8(b).unwrap()
        })
        .collect();
    assert_eq!(
        data[0],
        format!(r#"{{"roomId":"r","messageInput":{}}}"#, texts[1])
    );
    assert_eq!(data[1], r#"{"roomId":3}"#);
    assert_eq!(
        data[2],
        format!(r#"{{"roomId":"r","messageInput":{}}}"#, texts[3])
    );
    assert_eq!(replay[0].1.name(), "agentMessage");
    // Dropping the oldest drops its text too: what is left still replays right.
    let b = Bounds {
        events: 2,
        bytes: 1 << 20,
        connected: 2,
    };
    let seq = o.next_seq();
    assert_eq!(o.push(seq, &msg(r#""last""#), false, b), Pushed::Kept);
    let replay = o.after(3).unwrap();
    let mut d = Vec::new();
    replay[1].1.write_data(&mut d);
    assert_eq!(
        String::from_utf8(d).unwrap(),
        r#"{"roomId":"r","messageInput":"last"}"#
    );
}
