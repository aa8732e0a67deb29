//! Terminal setup and teardown: raw mode and the alternate screen on the way in, and the
//! user's terminal restored on every way out (normal exit, error, panic, signal).

use std::io::{self, BufWriter, Stdout, Write};

use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Output is buffered so a frame reaches the terminal in one write, which matters over SSH.
pub type Tui = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Puts the terminal into the cockpit's mode. Installs a panic hook first, so a panic
/// anywhere afterwards still leaves the user's shell usable.
pub fn enter() -> io::Result<Tui> {
    install_panic_hook();
    terminal::enable_raw_mode()?;
    let mut stdout = io::stdout();
    if let Err(error) = execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide) {
        let _ = restore();
        return Err(error);
    }
    Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
        64 * 1024,
        io::stdout(),
    )))
}

/// Gives the terminal back: leaves the alternate screen, shows the cursor, cooks the input.
/// Safe to call more than once.
pub fn restore() -> io::Result<()> {
    let mut stdout = io::stdout();
    let screen = execute!(stdout, terminal::LeaveAlternateScreen, cursor::Show);
    let raw = terminal::disable_raw_mode();
    stdout.flush()?;
    screen.and(raw)
}

/// Restores the terminal when dropped, whatever path the program leaves by.
pub struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        let _ = restore();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = restore();
        previous(info);
    }));
}
