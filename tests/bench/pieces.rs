//! The hook's own work piece by piece, in process, on a warm outbox another connection
//! holds open (as the daemon does): what each step of `difflore-hook` costs beyond the
//! bare insert, so whatever is not needed on every run can be seen and taken off the path.
//! The process's own start (exec, loader, argument parsing) is the difference between the
//! hook with capture off and /bin/true, measured as whole processes by the hook bench.

use std::path::Path;
use std::time::{Duration, Instant};

use difflore::shared::event::classify;
use difflore::shared::paths::Paths;
use difflore::shared::spill;
use difflore::shared::store::{OpenOptions, Outbox};

/// One piece's name and its time in each run.
pub struct Piece {
    pub name: &'static str,
    pub times: Vec<Duration>,
}

impl Piece {
    pub fn p50_us(&self) -> f64 {
        let mut t = self.times.clone();
        t.sort();
        t[t.len() / 2].as_secs_f64() * 1e6
    }
}

/// `runs` runs of the hook's steps, in its order, each step timed apart.
pub fn measure(home: &Path, payload: &[u8], runs: usize) -> Vec<Piece> {
    let names = [
        "classify: parse and check the JSON",
        "data home: create-or-check, owner, mode",
        "open the outbox (file, WAL, schema check)",
        "WAL length check",
        "insert and commit",
        "spill directory look",
    ];
    let mut pieces: Vec<Piece> = names
        .iter()
        .map(|name| Piece {
            name,
            times: Vec::with_capacity(runs),
        })
        .collect();
    for _ in 0..runs {
        let mut lap = Instant::now();
        let mut next = |i: usize, pieces: &mut Vec<Piece>| {
            let now = Instant::now();
            pieces[i].times.push(now - lap);
            lap = now;
        };
        let fields = classify(payload, Some("claude-code")).expect("an event");
        next(0, &mut pieces);
        let paths = Paths::at(home);
        paths.ensure_private_home().expect("data home");
        next(1, &mut pieces);
        let outbox =
            Outbox::open(&paths, OpenOptions::hook(Duration::from_millis(500))).expect("outbox");
        next(2, &mut pieces);
        let _ = outbox.checkpoint_long_wal(1 << 20, || true);
        next(3, &mut pieces);
        let text = std::str::from_utf8(payload).expect("UTF-8");
        outbox
            .insert(difflore::shared::now_ms(), &fields, text)
            .expect("insert");
        next(4, &mut pieces);
        if outbox.conn().busy_timeout(Duration::ZERO).is_ok() {
            let _ = spill::import(&outbox, &paths, 4, Duration::from_secs(60));
        }
        next(5, &mut pieces);
        // Not timed: the hook never closes its outbox (its exit does), but this loop must.
        drop(outbox);
    }
    pieces
}
