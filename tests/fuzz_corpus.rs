//! Replays every checked-in fuzz input (`tests/fuzz_corpus/TARGET/*`: seeds and the inputs
//! that once crashed a parser) through the entry function its fuzz target calls, on the
//! stable toolchain and without the fuzzer. See README, "Fuzzing".

use std::path::{Path, PathBuf};

use kockpit::fuzzing::TARGETS;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}; every fuzz target keeps a corpus", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_goes_through_its_parser_without_a_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, entry) in TARGETS {
        let files = inputs(&corpus_root().join(name));
        assert!(
            !files.is_empty(),
            "tests/fuzz_corpus/{name} holds no inputs"
        );
        for file in files {
            let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if std::panic::catch_unwind(|| entry(&data)).is_err() {
                failures.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} corpus inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_target_has_a_fuzz_binary_and_every_corpus_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in TARGETS {
        let target = root.join("fuzz/fuzz_targets").join(format!("{name}.rs"));
        assert!(target.is_file(), "{} is missing", target.display());
    }
    let entries = std::fs::read_dir(corpus_root()).unwrap_or_else(|e| panic!("{e}"));
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            TARGETS.iter().any(|(target, _)| *target == name),
            "tests/fuzz_corpus/{name} belongs to no fuzz target"
        );
    }
}
