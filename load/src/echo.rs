//! echo: plain WebSocket echo (examples/echo_baseline.rs), the ceiling for relaying:
//! P connections, each keeping K raw text frames in flight (the relay pinger, no agents).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::conn::open_many;
use crate::ctx::Ctx;
use crate::relay::drive;

pub async fn run(ctx: Arc<Ctx>) -> Result<serde_json::Value, String> {
    let t_setup = Instant::now();
    let (stop_tx, _stop_rx) = watch::channel(false);
    let mut users = Vec::new();
    for c in open_many(&ctx, ctx.args.pairs, 0, None, "e").await? {
        users.push((c, String::new()));
    }
    drive(ctx, users, t_setup, stop_tx, Vec::new()).await
}
