//! Property tests of the Corefile parser the DNS fix relies on: it never panics, whatever it
//! accepts renders back byte for byte, and the cache/TTL edit leaves every plugin it does not
//! edit (comments and spacing included) exactly as it was.

use proptest::prelude::*;

use crate::domain::corefile::{self, CacheSettings, Corefile, Item};

/// Pieces of real Corefiles, concatenated at random: mostly rejected, which exercises the
/// error paths.
const PIECES: &[&str] = &[
    ".:53",
    "cluster.local:53",
    "{",
    "}",
    "\n",
    " ",
    "\t",
    "# a comment\n",
    "#",
    "\"q v\"",
    "\"",
    "\\\"",
    "cache",
    "30",
    "kubernetes",
    "ttl",
    "forward",
    ".",
    "import",
    "(snippet)",
    "{$UPSTREAM}",
    "{$",
    "é",
    "\r\n",
];

fn pieces() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|pieces| pieces.concat())
}

const WORDS: &[&str] = &[
    "30",
    "cluster.local",
    "in-addr.arpa",
    ".",
    "/etc/resolv.conf",
    "10.0.0.2",
    "insecure",
    "5s",
    "10000",
    ":9153",
    "\"quoted value\"",
    "{$UPSTREAM}",
    "é",
    "tls://1.1.1.1",
];
const PLUGINS: &[&str] = &[
    "errors",
    "health",
    "ready",
    "kubernetes",
    "cache",
    "forward",
    "prometheus",
    "loop",
    "reload",
    "loadbalance",
    "log",
    "hosts",
    "rewrite",
];
const SETTINGS: &[&str] = &[
    "ttl",
    "pods",
    "fallthrough",
    "lameduck",
    "success",
    "denial",
    "prefetch",
    "max_concurrent",
    "prefer_udp",
    "policy",
];
/// What separates lines: plain newlines, blank lines, comments, Windows line ends.
const BREAKS: &[&str] = &["\n", "\n\n", "  # why\n", "\r\n", "\n# note\n"];
const INDENTS: &[&str] = &["", "  ", "    ", "\t", "      "];

fn line(
    name: &'static [&'static str],
) -> impl Strategy<Value = (&'static str, Vec<&'static str>, &'static str, &'static str)> {
    (
        prop::sample::select(name),
        prop::collection::vec(prop::sample::select(WORDS), 0..3),
        prop::sample::select(INDENTS),
        prop::sample::select(BREAKS),
    )
}

fn plugin() -> impl Strategy<Value = String> {
    (
        line(PLUGINS),
        prop::option::of(prop::collection::vec(line(SETTINGS), 0..4)),
    )
        .prop_map(|((name, args, indent, end), block)| {
            let mut text = format!("{indent}{name}");
            for arg in args {
                text.push(' ');
                text.push_str(arg);
            }
            if let Some(settings) = block {
                text.push_str(" {\n");
                for (setting, args, inner, end) in settings {
                    text.push_str(&format!(
                        "{indent}{inner}  {setting} {}{end}",
                        args.join(" ")
                    ));
                }
                text.push_str(&format!("{indent}}}"));
            }
            text.push_str(end);
            text
        })
}

fn server() -> impl Strategy<Value = String> {
    (
        prop::sample::select(
            &[
                ".:53",
                "cluster.local:53",
                "dns://.:5353",
                "example.org amazonaws.com:53",
            ][..],
        ),
        prop::collection::vec(plugin(), 0..8),
        prop::sample::select(BREAKS),
    )
        .prop_map(|(keys, plugins, end)| format!("{keys} {{\n{}}}{end}", plugins.concat()))
}

/// Corefiles built from the grammar, with comments, blank lines and odd spacing, so most of
/// them parse and the round-trip and edit properties have something to hold on.
fn corefile_like() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["", "# Corefile\n", "\n", "(common) {\n  errors\n}\n"][..]),
        prop::collection::vec(server(), 1..3),
        prop::sample::select(&["", "\n", "# end\n", "   "][..]),
    )
        .prop_map(|(head, servers, tail)| format!("{head}{}{tail}", servers.concat()))
}

fn main_index(file: &Corefile) -> Option<usize> {
    let main = file.main_block()?;
    file.items
        .iter()
        .position(|item| matches!(item, Item::Server(block) if std::ptr::eq(block, main)))
}

const EDITED: [&str; 3] = ["kubernetes", "cache", "forward"];

fn check_edit_keeps_the_rest(text: &str) -> Result<(), TestCaseError> {
    let Ok(original) = corefile::parse(text) else {
        return Ok(());
    };
    let mut edited = original.clone();
    let had_cache = original
        .main_block()
        .is_some_and(|b| b.plugin("cache").is_some());
    let _ = edited.set_kubernetes_ttl(30);
    prop_assert!(edited.set_cache(&CacheSettings::recommended()).is_ok());
    let _ = edited.set_forward_max_concurrent(2000);
    let rendered = edited.render();
    // What the fix writes must read back, or a restarting pod would crash-loop on it.
    let reparsed = corefile::parse(&rendered);
    prop_assert!(
        reparsed.is_ok(),
        "edited Corefile does not parse: {:?}",
        rendered
    );
    prop_assert_eq!(&edited.trailing, &original.trailing);
    prop_assert_eq!(edited.items.len(), original.items.len());
    let main = main_index(&original);
    for (index, (before, after)) in original.items.iter().zip(&edited.items).enumerate() {
        if Some(index) != main {
            prop_assert_eq!(before, after);
            continue;
        }
        let (Item::Server(before), Item::Server(after)) = (before, after) else {
            return Err(TestCaseError::fail("the main block changed kind"));
        };
        prop_assert_eq!(&before.keys, &after.keys);
        prop_assert_eq!(&before.body.open, &after.body.open);
        if had_cache {
            prop_assert_eq!(&before.body.close, &after.body.close);
        }
        let untouched = |block: &corefile::Block| -> Vec<corefile::Directive> {
            block
                .directives
                .iter()
                .filter(|d| !EDITED.contains(&d.name().as_ref()))
                .cloned()
                .collect()
        };
        prop_assert_eq!(untouched(&before.body), untouched(&after.body));
        // An edited plugin keeps the comment and spacing in front of it.
        for name in EDITED {
            if let (Some(b), Some(a)) = (before.body.find(name), after.body.find(name)) {
                prop_assert_eq!(&b.name, &a.name);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_any_text(text in any::<String>()) {
        let _ = corefile::parse(&text);
    }

    #[test]
    fn random_pieces_never_panic_and_render_back_when_accepted(text in pieces()) {
        if let Ok(parsed) = corefile::parse(&text) {
            prop_assert_eq!(parsed.render(), text);
        }
    }

    #[test]
    fn accepted_corefile_like_text_renders_back_exactly(text in corefile_like()) {
        if let Ok(parsed) = corefile::parse(&text) {
            prop_assert_eq!(parsed.render(), text);
        }
    }

    #[test]
    fn accepted_arbitrary_text_renders_back_exactly(text in any::<String>()) {
        if let Ok(parsed) = corefile::parse(&text) {
            prop_assert_eq!(parsed.render(), text);
        }
    }

    #[test]
    fn cache_edit_keeps_everything_it_does_not_edit(text in corefile_like()) {
        check_edit_keeps_the_rest(&text)?;
    }

    #[test]
    fn cache_edit_keeps_a_real_corefile_with_noise_around_it(
        before in "[ \t\n#a-z]{0,40}",
        after in "[ \t\n#a-z]{0,40}",
    ) {
        // Comments and blank lines anywhere around the EKS default.
        let text = format!(
            "{before}\n.:53 {{\n    errors\n    # {before}\n    kubernetes cluster.local {{\n      pods insecure\n    }}\n    forward . /etc/resolv.conf\n    cache 30\n    reload\n}}\n# {after}\n"
        );
        check_edit_keeps_the_rest(&text)?;
    }
}

#[test]
fn the_edit_property_holds_on_a_file_with_snippets_and_two_servers() {
    let text = "(common) {\n  errors\n}\ncluster.local:53 {\n  import common\n  kubernetes cluster.local\n  cache\n}\n.:53 {\n  # upstream\n  forward . 10.0.0.2 # vpc\n  cache 10 {\n    success 100\n  }\n}\n";
    assert!(check_edit_keeps_the_rest(text).is_ok());
}

#[test]
fn generated_corefiles_are_often_accepted_so_the_properties_are_not_vacuous() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = corefile_like();
    let mut accepted = 0;
    for _ in 0..2000 {
        let text = strategy.new_tree(&mut runner).expect("a value").current();
        if corefile::parse(&text).is_ok() {
            accepted += 1;
        }
    }
    assert!(
        accepted >= 1000,
        "only {accepted} of 2000 generated Corefiles parse"
    );
}
