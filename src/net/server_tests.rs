//! Unit tests for `server`: the loop as a whole, on loopback.
use super::*;
use crate::net::Command;

/// A command from another thread wakes the sleeping loop, which then stops.
#[test]
fn a_shutdown_command_from_another_thread_stops_the_loop() {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let mut server = Server::bind(config, None, Metrics::new()).unwrap();
    let inbox = server.inbox();
    let started = Instant::now();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        inbox.send(Command::Shutdown).unwrap();
        inbox
    });
    server.run().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let inbox = sender.join().unwrap();
    drop(server);
    assert!(inbox.send(Command::Reload).is_err(), "the loop is gone");
}
