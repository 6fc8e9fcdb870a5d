//! What the user sees on stderr: progress bars on a terminal, plain progress lines (at most one
//! every few seconds) when stderr is a log or a pipe. Results go to stdout.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The progress display of one command (clones share it).
#[derive(Clone)]
pub struct Ui {
    bars: MultiProgress,
    interactive: bool,
    quiet: bool,
    last_plain: Arc<Mutex<Option<(String, Instant)>>>,
}

/// One progress bar (hidden when stderr is not a terminal).
pub struct Bar<'a> {
    ui: &'a Ui,
    bar: ProgressBar,
    label: &'static str,
}

impl Ui {
    pub fn new(quiet: bool) -> Ui {
        let interactive = !quiet && std::io::stderr().is_terminal();
        let target = if interactive {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Ui {
            bars: MultiProgress::with_draw_target(target),
            interactive,
            quiet,
            last_plain: Arc::new(Mutex::new(None)),
        }
    }

    /// A message line above the bars.
    pub fn line(&self, message: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        if self.interactive {
            let _ = self.bars.println(message.as_ref());
        } else {
            eprintln!("{}", message.as_ref());
        }
    }

    /// A bar counting `unit`s up to `total`.
    pub fn bar(&self, label: &'static str, total: u64, unit: &str) -> Bar<'_> {
        let bar = self.bars.add(ProgressBar::new(total));
        let counts = if unit == "bytes" {
            "{bytes}/{total_bytes} ({percent}%) {binary_bytes_per_sec}".to_owned()
        } else {
            format!("{{human_pos}}/{{human_len}} {unit} ({{percent}}%)")
        };
        let template = format!("{label:>10} [{{bar:40.cyan/blue}}] {counts} eta {{eta}} {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Bar {
            ui: self,
            bar,
            label,
        }
    }
}

impl Bar<'_> {
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    pub fn set_position(&self, position: u64) {
        self.bar.set_position(position);
        self.plain_progress(false);
    }

    /// Counts `delta` more units, never past the total.
    pub fn add(&self, delta: u64) {
        let position = self.bar.position().saturating_add(delta);
        match self.bar.length() {
            Some(total) if total > 0 => self.bar.set_position(position.min(total)),
            _ => self.bar.set_position(position),
        }
        self.plain_progress(false);
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Ends the bar at its total (what was counted may differ slightly from what was
    /// estimated, e.g. a file's size against the bytes of its parts).
    pub fn finish(&self) {
        if let Some(total) = self.bar.length() {
            self.bar.set_position(total);
        }
        self.plain_progress(true);
        self.bar.finish();
    }

    /// Without a terminal: a line like `processing: 45% (450000/1000000 records)` now and then.
    fn plain_progress(&self, force: bool) {
        if self.ui.interactive || self.ui.quiet {
            return;
        }
        let total = self.bar.length().unwrap_or(0);
        if total == 0 {
            return;
        }
        let position = self.bar.position().min(total);
        let percent = (position * 100).checked_div(total).unwrap_or(0);
        let text = format!("{}: {percent}% ({position}/{total})", self.label);
        let mut last = self
            .ui
            .last_plain
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let due = match &*last {
            Some((previous, at)) => {
                (force || at.elapsed() >= PLAIN_PROGRESS_EVERY) && *previous != text
            }
            None => true,
        };
        if due {
            eprintln!("{text}");
            *last = Some((text, Instant::now()));
        }
    }
}
