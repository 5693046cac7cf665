//! The `download`/`seed` display: a component that reads the patron's replies and status
//! updates, shows progress (a bar on a terminal, plain lines otherwise) and decides when the
//! program is done.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kamaelia_torrent::axon::ipc::{ProducerFinished, ShutdownMicroprocess};
use kamaelia_torrent::axon::{BoxSpec, Component, ComponentResult, Ctx};
use kamaelia_torrent::ipc::{
    TIPCNewTorrentCreated, TIPCTorrentAlreadyDownloading, TIPCTorrentStartFail,
    TIPCTorrentStatusUpdate, TorrentState, TorrentStats,
};

/// How the run ended: `Ok` for success, or the one line to print.
pub type Outcome = Arc<Mutex<Option<Result<(), String>>>>;

const INBOXES: &[BoxSpec] = &[
    BoxSpec::new("inbox", "Replies and status updates from the TorrentPatron"),
    BoxSpec::new("control", "Not used"),
];
const OUTBOXES: &[BoxSpec] = &[
    BoxSpec::new("outbox", "Not used"),
    BoxSpec::new("signal", "Stops the TorrentPatron when the work is done"),
];

pub struct Progress {
    name: String,
    total: u64,
    exit_when_complete: bool,
    must_be_complete: bool,
    /// Added to the error when the data is found incomplete (what is missing, what to do).
    incomplete_note: String,
    interrupted: Arc<AtomicBool>,
    outcome: Outcome,
}

impl Progress {
    pub fn new(
        name: String,
        total: u64,
        exit_when_complete: bool,
        must_be_complete: bool,
        incomplete_note: String,
        interrupted: Arc<AtomicBool>,
        outcome: Outcome,
    ) -> Progress {
        Progress {
            name,
            total,
            exit_when_complete,
            must_be_complete,
            incomplete_note,
            interrupted,
            outcome,
        }
    }
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

fn eta(s: &TorrentStats) -> String {
    match s.eta_seconds {
        // Capped so that the line keeps its width: past 99 hours the number says little.
        Some(t) if t >= 100 * 3600 => ">99h".to_string(),
        Some(t) => format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60),
        None => "-".to_string(),
    }
}

/// `fraction` as a percentage with one decimal, rounded down, never to 100.0 short of
/// complete: one bad piece in thousands is "99.9", not "100.0".
pub fn percent(fraction: f64) -> f64 {
    let fraction = fraction.clamp(0.0, 1.0);
    if fraction >= 1.0 {
        return 100.0;
    }
    // A hair above the product: 0.3 * 1000.0 is 299.99999999999994, which is 30.0%.
    let tenths = (fraction * 1000.0 * (1.0 + 1e-12)).floor().min(999.0);
    tenths / 10.0
}

/// Why `seed` refuses data that is not complete.
fn incomplete(fraction: f64, note: &str) -> String {
    format!(
        "the data is not complete: {:.1}% of it matches the torrent{note}",
        percent(fraction)
    )
}

/// The status in words: percent, rates, peers, ETA.
fn line(s: &TorrentStats) -> String {
    format!(
        "{:5.1}% down {:6.1} up {:6.1} MiB/s peers {} ({} seeds) ETA {}",
        percent(s.fraction_done),
        mib(s.down_rate),
        mib(s.up_rate),
        s.num_peers,
        s.num_seeds,
        eta(s)
    )
}

/// `[####......]`: `fraction` of `width` marks, rounded down (full only when complete).
pub fn bar(fraction: f64, width: usize) -> String {
    let full = (percent(fraction) / 100.0 * width as f64).floor() as usize;
    format!("[{}{}]", "#".repeat(full), ".".repeat(width - full))
}

/// The live line on a terminal: a bar, then what [`line`] says, in at most 79 columns (an
/// 80-column terminal does not wrap it, so `\r` redraws it in place).
fn bar_line(s: &TorrentStats) -> String {
    format!("{} {}", bar(s.fraction_done, 8), line(s))
}

/// The line shown while seeding.
fn seeding_line(s: &TorrentStats) -> String {
    format!(
        "seeding: up {:7.2} MiB/s  uploaded {:.2} MiB  peers {}",
        mib(s.up_rate),
        mib(s.up_total as f64),
        s.num_peers
    )
}

impl Component for Progress {
    fn inboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(INBOXES)
    }
    fn outboxes(&self) -> Cow<'static, [BoxSpec]> {
        Cow::Borrowed(OUTBOXES)
    }

    async fn main(self, ctx: Ctx) -> ComponentResult {
        let tty = std::io::stdout().is_terminal();
        let started = Instant::now();
        let mut last_line = Instant::now() - Duration::from_secs(60);
        let mut last_percent = u32::MAX;
        let mut announced_seeding = false;
        // A live line drawn with `\r` and not yet ended: an error ends it first, so that the
        // error (on standard error) starts a line of its own.
        let line_open = std::cell::Cell::new(false);
        let finish = |result: Result<(), String>| {
            if result.is_err() && line_open.replace(false) {
                println!();
            }
            *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        };
        let stop_now: bool = 'run: loop {
            if self.interrupted.load(Ordering::SeqCst) {
                if line_open.replace(false) {
                    println!();
                }
                if self.must_be_complete || announced_seeding {
                    finish(Ok(()));
                } else {
                    finish(Err("interrupted before the download completed".into()));
                }
                break 'run true;
            }
            while let Ok(m) = ctx.recv("inbox") {
                if let Some(c) = m.downcast_ref::<TIPCNewTorrentCreated>() {
                    println!(
                        "{}: {} bytes into {}",
                        self.name,
                        self.total,
                        c.save_folder.display()
                    );
                } else if let Some(f) = m.downcast_ref::<TIPCTorrentStartFail>() {
                    finish(Err(f.reason.clone()));
                    return stop(&ctx, true);
                } else if m.is::<TIPCTorrentAlreadyDownloading>() {
                    finish(Err("that torrent is already being downloaded".into()));
                    return stop(&ctx, true);
                } else if let Some(u) = m.downcast_ref::<TIPCTorrentStatusUpdate>() {
                    let s = &u.stats;
                    match s.state {
                        TorrentState::Checking => continue,
                        TorrentState::Stopped => {
                            finish(Err(s
                                .error
                                .clone()
                                .unwrap_or_else(|| "the torrent stopped".into())));
                            return stop(&ctx, true);
                        }
                        TorrentState::Downloading if self.must_be_complete => {
                            finish(Err(incomplete(s.fraction_done, &self.incomplete_note)));
                            return stop(&ctx, true);
                        }
                        TorrentState::Downloading => {
                            let percent = (s.fraction_done * 1000.0) as u32;
                            if tty {
                                print!("\r{}\x1b[K", bar_line(s));
                                line_open.set(true);
                                let _ = std::io::stdout().flush();
                            } else if percent / 100 != last_percent / 100
                                || last_line.elapsed() >= Duration::from_secs(10)
                            {
                                println!("{}", line(s));
                                last_line = Instant::now();
                            }
                            last_percent = percent;
                        }
                        TorrentState::Seeding => {
                            if announced_seeding {
                                // Seeding until Ctrl-C: a live line on a terminal, else a
                                // plain one every 10 s.
                                if tty {
                                    print!("\r{}\x1b[K", seeding_line(s));
                                    line_open.set(true);
                                    let _ = std::io::stdout().flush();
                                } else if last_line.elapsed() >= Duration::from_secs(10) {
                                    println!("{}", seeding_line(s));
                                    last_line = Instant::now();
                                }
                            } else {
                                announced_seeding = true;
                                last_line = Instant::now();
                                if tty {
                                    println!("\r{}\x1b[K", bar_line(s));
                                    line_open.set(false);
                                }
                                if !self.must_be_complete {
                                    println!(
                                        "complete: {} bytes verified in {:.1} s",
                                        self.total,
                                        started.elapsed().as_secs_f64()
                                    );
                                }
                                if self.exit_when_complete {
                                    finish(Ok(()));
                                    break 'run false;
                                }
                                println!("seeding {} (Ctrl-C to stop)", self.name);
                            }
                        }
                    }
                }
            }
            ctx.wake_at(Instant::now() + Duration::from_millis(250));
            ctx.pause();
            ctx.yield_now().await;
        };
        stop(&ctx, stop_now)
    }
}

/// Stops the patron: at once, or after it has finished what it holds.
fn stop(ctx: &Ctx, now: bool) -> ComponentResult {
    if now {
        ctx.send(ShutdownMicroprocess::default(), "signal")?;
    } else {
        ctx.send(ProducerFinished::default(), "signal")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_short_of_complete_never_shows_100() {
        let one_bad_in_5000 = 4999.0 / 5000.0;
        assert_eq!(percent(one_bad_in_5000), 99.9);
        assert_eq!(percent(1.0 - 1e-15), 99.9);
        assert_eq!(percent(1.0), 100.0);
        assert_eq!(percent(0.3), 30.0);
        assert_eq!(percent(0.12345), 12.3);
        assert_eq!(percent(0.0), 0.0);
        let said = incomplete(one_bad_in_5000, "; pieces differ");
        assert_eq!(
            said,
            "the data is not complete: 99.9% of it matches the torrent; pieces differ"
        );
        let s = TorrentStats::downloading(0.99996);
        assert!(line(&s).starts_with(" 99.9% down"), "{}", line(&s));
        assert_eq!(bar(0.99996, 8), "[#######.]");
    }

    #[test]
    fn the_terminal_line_has_a_bar_and_fits_in_79_columns() {
        let mut s = TorrentStats {
            down_rate: 9999.9 * 1048576.0,
            up_rate: 9999.9 * 1048576.0,
            num_peers: 50,
            num_seeds: 50,
            eta_seconds: Some(99 * 3600 + 59 * 60 + 59),
            ..TorrentStats::downloading(0.5)
        };
        let wide = bar_line(&s);
        assert!(wide.starts_with("[####....]  50.0% down"), "{wide}");
        assert!(
            wide.chars().count() <= 79,
            "{} columns: {wide}",
            wide.chars().count()
        );
        s.eta_seconds = Some(5000 * 3600);
        assert!(bar_line(&s).ends_with("ETA >99h"), "{}", bar_line(&s));
        s.fraction_done = 1.0;
        assert!(bar_line(&s).starts_with("[########] 100.0%"));
    }
}
