//! The docs match what runs: every `cargo xtask` command written in README.md and docs/
//! parses with today's options; the egg tool examples in docs/egg.md print what they say;
//! the README names every boot scenario and quotes xtask's limits and lines as they are;
//! figures come with the command that printed them; relative links lead to files.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::steps::workspace_root;

/// README.md and every file in docs/, with their text.
fn documents() -> Vec<(PathBuf, String)> {
    let root = workspace_root();
    let mut paths = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(workspace_root().join(relative)).unwrap()
}

/// The `cargo xtask` commands written in `text`, as argument lists: each from
/// `cargo xtask` to the end of its backtick span, line, comment, pipe or redirection.
/// Lists and patterns (`build, image`, `asm|disasm|ops`) and placeholders in capitals
/// (`FILTER`, `N`) are not commands and are left out.
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("cargo xtask") {
            let after = &rest[at + "cargo xtask".len()..];
            let end = after
                .find(['`', '#', '<', ';'])
                .into_iter()
                .chain(after.find(" | "))
                .min()
                .unwrap_or(after.len());
            let words: Vec<String> = after[..end].split_whitespace().map(String::from).collect();
            let placeholder = |word: &String| {
                word.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    || word.contains([',', '|'])
            };
            if !words.is_empty() && !words.iter().any(placeholder) {
                found.push(words);
            }
            rest = &after[end..];
        }
    }
    found
}

#[test]
fn every_xtask_command_in_the_docs_parses() {
    let mut parsed = 0;
    for (path, text) in documents() {
        for words in commands(&text) {
            let argv = std::iter::once("cargo xtask".to_string()).chain(words.iter().cloned());
            if let Err(error) = crate::Cli::try_parse_from(argv) {
                panic!(
                    "{}: `cargo xtask {}` does not parse:\n{error}",
                    path.display(),
                    words.join(" ")
                );
            }
            parsed += 1;
        }
    }
    // README alone has run, test, bench, image, clippy, fmt and the --memory example.
    assert!(parsed >= 10, "only {parsed} commands found");
}

#[test]
fn commands_are_cut_at_backticks_comments_pipes_and_redirections() {
    let text = "`cargo xtask run </dev/null` and `cargo xtask test FILTER`\n\
                cargo xtask bench ipc   # round trips\n\
                $ cargo xtask egg disasm 0500 | cargo xtask egg asm -\n\
                `cargo xtask build, image, run`, `cargo xtask egg asm|disasm|ops`";
    assert_eq!(
        commands(text),
        [
            vec!["run"],
            vec!["bench", "ipc"],
            vec!["egg", "disasm", "0500"],
            vec!["egg", "asm", "-"],
        ]
    );
}

/// The `$ cargo xtask egg ...` examples of docs/egg.md's "Tools" section with the lines
/// each is documented to print.
fn egg_examples() -> Vec<(String, Vec<String>)> {
    let doc = read("docs/egg.md");
    let tools = &doc[doc.find("## Tools").unwrap()..];
    let block = &tools[tools.find("```text").unwrap() + "```text".len()..];
    let block = &block[..block.find("```").unwrap()];
    let mut examples: Vec<(String, Vec<String>)> = Vec::new();
    for line in block.lines().filter(|line| !line.trim().is_empty()) {
        match line.strip_prefix("$ ") {
            Some(command) => examples.push((command.to_string(), Vec::new())),
            None => examples.last_mut().unwrap().1.push(line.to_string()),
        }
    }
    examples
}

/// What `cargo xtask egg disasm HEX`, optionally piped into `egg asm -`, prints (an
/// error as xtask prints it).
fn egg_output(command: &str) -> Option<Vec<String>> {
    let (first, pipe) = match command.split_once(" | ") {
        Some((first, second)) => (first, Some(second)),
        None => (command, None),
    };
    let hex = first.strip_prefix("cargo xtask egg disasm ")?;
    let program = crate::egg_cmd::from_hex(hex).unwrap();
    let text = match egg::disassemble(&program) {
        Ok(text) => text,
        Err(error) => return Some(vec![format!("xtask: error: invalid egg: {error}")]),
    };
    let output = match pipe {
        Some("cargo xtask egg asm -") => crate::egg_cmd::to_hex(&egg::assemble(&text).unwrap()),
        Some(other) => panic!("unknown pipe `{other}`"),
        None => text,
    };
    Some(output.lines().map(String::from).collect())
}

#[test]
fn the_egg_tool_examples_print_what_docs_egg_md_says() {
    let mut checked = 0;
    for (command, documented) in egg_examples() {
        if let Some(actual) = egg_output(&command) {
            assert_eq!(actual, documented, "`{command}`");
            checked += 1;
        } else {
            assert!(
                command.starts_with("cargo xtask egg ops"),
                "unchecked: {command}"
            );
        }
    }
    assert_eq!(checked, 3);
}

#[test]
fn the_readme_names_every_boot_scenario() {
    let readme = read("README.md");
    for scenario in crate::test::SCENARIOS {
        assert!(
            readme.contains(&format!("`{}`", scenario.name)),
            "README.md does not name the `{}` scenario",
            scenario.name
        );
    }
    for bochs in crate::test::BOCHS_BOOTS {
        assert!(
            readme.contains(&format!("`{}`", bochs.name)),
            "README.md does not name the `{}` Bochs boot",
            bochs.name
        );
    }
}

#[test]
fn the_readme_quotes_xtask_limits_as_they_are() {
    let readme = read("README.md");
    for quoted in [
        format!("at least `{}M`", crate::options::MIN_MEMORY_MIB),
        format!("1 to {} CPUs", crate::options::MAX_SMP),
        format!("Bochs: up to {}", crate::bochs::MAX_CPUS),
        format!("at most `{}M`", crate::bochs::MAX_MEMORY_MIB),
        format!("GDB on {}", crate::qemu::GDB_ADDRESS),
    ] {
        assert!(readme.contains(&quoted), "README.md lacks `{quoted}`");
    }
}

/// The `xtask:` lines of the README's sample output each begin as a line xtask prints: the
/// text up to the first value (a number, path, quote or parenthesis) is in its source.
#[test]
fn the_readme_sample_output_is_made_of_lines_xtask_prints() {
    let readme = read("README.md");
    let sample = &readme[readme.find("```text").unwrap()..];
    let sample = &sample[..sample[3..].find("```").unwrap()];
    let sources: String = std::fs::read_dir(workspace_root().join("xtask/src"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    let mut checked = 0;
    for line in sample
        .lines()
        .filter_map(|line| line.strip_prefix("xtask: "))
    {
        let fixed = line
            .split(|c: char| c.is_ascii_digit() || "(`/\"".contains(c))
            .next()
            .unwrap()
            .trim_end();
        let fixed = fixed.trim_end_matches(" ...").split(": ").next().unwrap();
        assert!(
            sources.contains(fixed),
            "README sample line `xtask: {line}`: `{fixed}` is not in xtask/src"
        );
        checked += 1;
    }
    assert!(checked >= 8, "{checked}");
}

#[test]
fn figures_in_the_docs_name_the_command_that_printed_them() {
    let egg = read("docs/egg.md");
    let performance = &egg[egg.find("## Performance").unwrap()..];
    assert!(performance.contains("`cargo xtask bench egg`"));
    assert!(performance.contains("instructions per byte"));
    let benchmarks = read("docs/benchmarks.md");
    assert!(benchmarks.contains("cargo xtask bench ipc"));
    assert!(benchmarks.contains("cargo xtask bench egg"));
    let readme = read("README.md");
    let bench = &readme[readme.find("## Benchmarks").unwrap()..];
    assert!(bench.contains("cargo xtask bench ipc"));
}

#[test]
fn relative_links_in_the_docs_lead_to_files() {
    for (path, text) in documents() {
        let dir = path.parent().unwrap();
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            let file = target.split('#').next().unwrap();
            if file.is_empty() || file.contains("://") {
                continue;
            }
            assert!(
                Path::new(dir).join(file).exists(),
                "{}: link to `{target}`, which is not there",
                path.display()
            );
        }
    }
}

#[test]
fn the_xtask_alias_shows_cargo_progress() {
    let config = read(".cargo/config.toml");
    let alias = config
        .lines()
        .find(|line| line.starts_with("xtask ="))
        .unwrap();
    assert!(
        !alias.contains("--quiet") && !alias.contains("-q "),
        "{alias}"
    );
}
