//! Records the commit kockpit is built from, for `kockpit --version`: `KOCKPIT_COMMIT` from
//! the environment (a build from a source archive sets it), else `git rev-parse`, else
//! "unknown commit".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=KOCKPIT_COMMIT");
    let commit = std::env::var("KOCKPIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    // Built again when HEAD moves: a new commit, a checkout, a merge. In a worktree HEAD
    // lives in the worktree's git directory and the branch refs in the common one.
    // Only files that exist are named: cargo runs the script on every build for a missing one.
    let watch = |path: String| {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    };
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        watch(format!("{dir}/HEAD"));
    }
    if let (Some(common), Some(reference)) = (
        git(&["rev-parse", "--git-common-dir"]),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ) {
        watch(format!("{common}/{reference}"));
        watch(format!("{common}/packed-refs"));
    }
    let commit = commit.map_or_else(|| "unknown commit".to_string(), |c| format!("commit {c}"));
    println!("cargo:rustc-env=KOCKPIT_COMMIT={commit}");
}
