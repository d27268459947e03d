use super::*;
use serde_json::value::RawValue;

fn msg(room: PeerId, text: &str) -> ServerEvent {
    ServerEvent::UserMessage {
        room,
        message: RawValue::from_string(text.to_owned()).expect("json"),
        attachments: None,
    }
}

fn texts(window: &[(u64, ServerEvent)]) -> Vec<(u64, String)> {
    window
        .iter()
        .map(|(seq, e)| match e {
            ServerEvent::UserMessage { message, room, .. } => {
                (*seq, format!("{room:?}:{}", message.get()))
            }
            other => (*seq, other.name().to_owned()),
        })
        .collect()
}

#[test]
fn a_partys_chain_is_its_own_events_in_order() {
    let mut ring = SentRing::new(1 << 16);
    let (mut a, mut b) = (None, None);
    for i in 1..=5u64 {
        a = ring.push(
            i,
            a,
            &msg(PeerId::Str(Rc::from("ra")), &format!("\"a{i}\"")),
        );
        b = ring.push(i, b, &msg(PeerId::Int(7), &format!("\"b{i}\"")));
    }
    let got = texts(&ring.chain(a.expect("kept"), 5, 3));
    assert_eq!(
        got,
        vec![
            (3, "Str(\"ra\"):\"a3\"".to_owned()),
            (4, "Str(\"ra\"):\"a4\"".to_owned()),
            (5, "Str(\"ra\"):\"a5\"".to_owned())
        ]
    );
    assert_eq!(texts(&ring.chain(b.expect("kept"), 5, 10)).len(), 5);
    assert_eq!(
        texts(&ring.chain(b.expect("kept"), 5, 10))[0].1,
        "Int(7):\"b1\""
    );
}

#[test]
fn other_events_are_kept_whole() {
    let mut ring = SentRing::new(1 << 12);
    let p = ring.push(1, None, &ServerEvent::AvailableAgents { count: 3 });
    let got = ring.chain(p.expect("kept"), 1, 4);
    assert!(matches!(
        got[..],
        [(1, ServerEvent::AvailableAgents { count: 3 })]
    ));
}

#[test]
fn overwritten_entries_end_the_chain() {
    // 2 KiB: 16 entries, 1 KiB of text.
    let mut ring = SentRing::new(2048);
    let mut a = ring.push(1, None, &msg(PeerId::Int(1), "\"old\""));
    a = ring.push(2, a, &msg(PeerId::Int(1), "\"newer\""));
    for i in 0..15 {
        ring.push(i, None, &msg(PeerId::Int(2), "\"noise\""));
    }
    // Entry 1 of `a` is written over; entry 2 is still there.
    let got = texts(&ring.chain(a.expect("kept"), 2, 16));
    assert_eq!(got, vec![(2, "Int(1):\"newer\"".to_owned())]);
    for i in 0..16 {
        ring.push(i, None, &msg(PeerId::Int(2), "\"noise\""));
    }
    assert!(ring.chain(a.expect("kept"), 2, 16).is_empty());
}

#[test]
fn text_written_over_ends_the_chain_even_if_the_entry_lives() {
    // 64 KiB: 512 entries, 32 KiB of text; messages of 4 KiB (under an eighth of it).
    let mut ring = SentRing::new(1 << 16);
    let big = format!("\"{}\"", "x".repeat(4000));
    let a = ring.push(1, None, &msg(PeerId::Int(1), &big));
    assert_eq!(ring.chain(a.expect("kept"), 1, 4).len(), 1);
    for i in 0..8 {
        ring.push(i, None, &msg(PeerId::Int(2), &big));
    }
    assert!(ring.chain(a.expect("kept"), 1, 4).is_empty());
}

#[test]
fn a_number_that_does_not_follow_ends_the_chain() {
    let mut ring = SentRing::new(1 << 12);
    let a = ring.push(1, None, &msg(PeerId::Int(1), "1"));
    let a = ring.push(3, a, &msg(PeerId::Int(1), "3"));
    assert_eq!(texts(&ring.chain(a.expect("kept"), 3, 4)).len(), 1);
    // The newest is not the last number given: nothing is a faithful window.
    assert!(ring.chain(a.expect("kept"), 4, 4).is_empty());
}

#[test]
fn a_resized_ring_forgets_every_old_position() {
    let mut ring = SentRing::new(1 << 12);
    let a = ring.push(1, None, &msg(PeerId::Int(1), "1"));
    let mut ring = ring.resized(1 << 13);
    assert!(ring.chain(a.expect("kept"), 1, 4).is_empty());
    let b = ring.push(2, None, &msg(PeerId::Int(1), "\"fresh\""));
    assert_eq!(
        texts(&ring.chain(b.expect("kept"), 2, 4)),
        vec![(2, "Int(1):\"fresh\"".to_owned())]
    );
    assert!(SentRing::new(0)
        .push(1, None, &msg(PeerId::Int(1), "1"))
        .is_none());
}

#[test]
fn signals_are_kept_as_text_so_the_rings_bytes_bound_them() {
    // 32 KiB of text: ten 3000-byte signals at most, though 512 entries would live.
    let mut ring = SentRing::new(1 << 16);
    let data = format!("\"{}\"", "s".repeat(2998));
    let mut newest = None;
    for i in 1..=100u64 {
        let event = ServerEvent::Signal {
            room: PeerId::Str(Rc::from("r")),
            data: RawValue::from_string(data.clone()).expect("json"),
        };
        newest = ring.push(i, newest, &event);
    }
    let kept = ring.chain(newest.expect("kept"), 100, 100);
    assert!((5..=10).contains(&kept.len()), "{}", kept.len());
    assert_eq!(kept.last().map(|(seq, _)| *seq), Some(100));
    for (_, e) in &kept {
        match e {
            ServerEvent::Signal { room, data: d } => {
                assert_eq!(
                    (room, d.get()),
                    (&PeerId::Str(Rc::from("r")), data.as_str())
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
