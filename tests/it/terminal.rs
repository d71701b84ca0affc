//! What an interactive `malgrupp run` shows: a progress line per pipeline on a terminal
//! (a pseudo-terminal made by util-linux's `script`), and none at all when the output is
//! a pipe or a file, as under cron, systemd or CI (no colours in the log either).

use std::path::Path;
use std::process::Command;

use crate::daemon::Site;

fn site() -> Site {
    Site::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines"), "")
}

#[test]
fn progress_lines_on_a_terminal_only() {
    let on_tty = site();
    let cmd = on_tty.command();
    // The same command line, run by `script` inside a pseudo-terminal.
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .chain(["run".into(), "kalmar_fs".into()])
        .collect();
    let out = Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("MALGRUPP_API_TOKENS", "unused")
        .output()
        .expect("script (util-linux) runs");
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{tty}");
    assert!(
        tty.lines()
            .any(|l| l.contains("kalmar_fs") && l.contains("ok — 115 rows written, 2 quarantined")),
        "a finished progress line on the terminal:\n{tty}"
    );

    let piped = site()
        .command()
        .args(["run", "kalmar_fs"])
        .output()
        .expect("run");
    assert!(piped.status.success());
    for stream in [&piped.stdout, &piped.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains("rows written,"),
            "no progress line without a terminal:\n{text}"
        );
        assert!(
            !text.contains('\u{1b}'),
            "no colours or control sequences:\n{text}"
        );
    }
}
