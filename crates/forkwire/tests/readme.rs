//! The READMEs' examples cannot rot: every `rust` and `js` block of the
//! repository's README.md and of the crate's README.md is a file, named by
//! the `<!-- example: path -->` comment above the block (relative to that
//! README), and must be that file's exact text, or with `(excerpt)` a run
//! of its lines (indentation aside). The Rust programs among them are run
//! here; the JS ones by `__test__/readme.spec.js`, which also checks the
//! one block marked `<!-- signature: ... -->` against a real pool.

use forkwire::process::Command;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_dir() -> PathBuf {
    crate_dir().join("../..").canonicalize().unwrap()
}

/// The READMEs checked here.
fn readmes() -> Vec<PathBuf> {
    vec![repo_dir().join("README.md"), crate_dir().join("README.md")]
}

/// Where `cargo test` put the examples it built with this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.is_file(),
        "{} is not built: `cargo test -p forkwire` builds the examples; to run this \
         test alone: `cargo build -p forkwire --examples && cargo test -p forkwire --test readme`",
        path.display()
    );
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// The blocks of a README.

/// What the comment above a block says about it.
#[derive(Debug)]
enum Marker {
    /// `<!-- example: path -->` or `<!-- example: path (excerpt) -->`.
    Example { path: PathBuf, excerpt: bool },
    /// `<!-- signature: checker ... -->`: checked by the named test.
    Signature { checker: PathBuf },
}

/// One fenced code block.
#[derive(Debug)]
struct Block {
    /// `README.md:LINE` of the opening fence, for messages.
    place: String,
    lang: String,
    marker: Option<Marker>,
    /// The lines between the fences, with the fence's indentation removed.
    lines: Vec<String>,
}

/// The fenced blocks of `readme`, each with the marker comment above it
/// (blank lines may come between).
fn blocks(readme: &Path) -> Vec<Block> {
    let text = read(readme);
    let dir = readme.parent().unwrap();
    let name = readme
        .canonicalize()
        .unwrap()
        .strip_prefix(repo_dir())
        .unwrap_or(readme)
        .display()
        .to_string();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut last_text: Option<&str> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            let indent = line.len() - trimmed.len();
            let start = i;
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && lines[i].trim() != "```" {
                let l = lines[i];
                body.push(
                    l.get(indent.min(leading_spaces(l))..)
                        .unwrap_or("")
                        .to_owned(),
                );
                i += 1;
            }
            assert!(
                i < lines.len(),
                "{name}:{}: a code block that never ends",
                start + 1
            );
            out.push(Block {
                place: format!("{name}:{}", start + 1),
                lang: lang.trim().to_owned(),
                marker: last_text.and_then(|t| marker(dir, t)),
                lines: body,
            });
            last_text = None;
        } else if !trimmed.is_empty() {
            last_text = Some(trimmed);
        }
        i += 1;
    }
    out
}

fn leading_spaces(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn marker(dir: &Path, line: &str) -> Option<Marker> {
    let inner = line.strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    if let Some(rest) = inner.strip_prefix("example:") {
        let rest = rest.trim();
        let (path, excerpt) = match rest.strip_suffix("(excerpt)") {
            Some(p) => (p.trim(), true),
            None => (rest, false),
        };
        return Some(Marker::Example {
            path: dir.join(path),
            excerpt,
        });
    }
    let rest = inner.strip_prefix("signature:")?.trim();
    let checker = rest.split_whitespace().next().unwrap_or("");
    Some(Marker::Signature {
        checker: repo_dir().join(checker),
    })
}

// ---------------------------------------------------------------------------
// Comparing a block with its file.

/// Lines without their common leading spaces.
fn dedent(lines: &[String]) -> Vec<String> {
    let cut = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| leading_spaces(l))
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(cut..).unwrap_or("").trim_end().to_owned())
        .collect()
}

/// A line diff (longest common subsequence): ` ` both, `-` README only,
/// `+` file only; runs of more than three common lines are shortened.
fn diff(readme: &[String], file: &[String]) -> String {
    let (n, m) = (readme.len(), file.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if readme[i] == file[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut rows = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && readme[i] == file[j] {
            rows.push((' ', &readme[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            rows.push(('-', &readme[i]));
            i += 1;
        } else {
            rows.push(('+', &file[j]));
            j += 1;
        }
    }
    let changed: Vec<usize> = (0..rows.len()).filter(|&k| rows[k].0 != ' ').collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= 2);
    let mut out = String::new();
    let mut skipped = false;
    for (k, (tag, line)) in rows.iter().enumerate() {
        if near(k) {
            let _ = writeln!(out, "    {tag} {line}");
            skipped = false;
        } else if !skipped {
            out.push_str("    ...\n");
            skipped = true;
        }
    }
    out
}

/// Why `block` does not match its marker, if it does not.
fn mismatch(block: &Block) -> Option<String> {
    let what = format!("{} (```{})", block.place, block.lang);
    let Some(marker) = &block.marker else {
        return Some(format!(
            "{what}: no `<!-- example: path -->` comment above it naming the file it is \
             (or `<!-- signature: checker -->` for a block checked some other way)"
        ));
    };
    let (path, excerpt) = match marker {
        Marker::Example { path, excerpt } => (path, *excerpt),
        Marker::Signature { checker } => {
            return (!checker.is_file()).then(|| {
                format!(
                    "{what}: its signature checker {} does not exist",
                    checker.display()
                )
            })
        }
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return Some(format!(
            "{what}: names {}, which does not exist",
            path.display()
        ));
    };
    let file: Vec<String> = text.lines().map(str::to_owned).collect();
    let shown = path
        .canonicalize()
        .ok()
        .and_then(|p| {
            p.strip_prefix(repo_dir().canonicalize().ok()?)
                .ok()
                .map(|p| p.display().to_string())
        })
        .unwrap_or_else(|| path.display().to_string());
    if !excerpt {
        if block.lines == file {
            return None;
        }
        return Some(format!(
            "{what} differs from {shown} (- README, + file); make them the same:\n{}",
            diff(&block.lines, &file)
        ));
    }
    let want = dedent(&block.lines);
    let n = want.len();
    if n > 0 && (0..=file.len().saturating_sub(n)).any(|i| dedent(&file[i..i + n]) == want) {
        return None;
    }
    // Show the diff against the stretch of the file that shares the most lines.
    let best = (0..=file.len().saturating_sub(n))
        .max_by_key(|&i| {
            let window = dedent(&file[i..(i + n).min(file.len())]);
            window.iter().zip(&want).filter(|(a, b)| a == b).count()
        })
        .unwrap_or(0);
    let window = dedent(&file[best..(best + n).min(file.len())]);
    Some(format!(
        "{what} is marked as an excerpt of {shown} but is not a run of its lines \
         (- README, + the closest lines of the file, from line {}):\n{}",
        best + 1,
        diff(&want, &window)
    ))
}

#[test]
fn every_rust_and_js_block_is_the_file_it_names() {
    let mut problems = Vec::new();
    let mut named = Vec::new();
    for readme in readmes() {
        for block in blocks(&readme) {
            let checked = matches!(block.lang.as_str(), "rust" | "js");
            if let Some(Marker::Example { path, .. }) = &block.marker {
                named.push(path.canonicalize().unwrap_or_else(|_| path.clone()));
            }
            if checked || block.marker.is_some() {
                problems.extend(mismatch(&block));
            }
        }
    }
    // A README program that no README shows any more is stale.
    let mut files: Vec<PathBuf> = Vec::new();
    for (dir, keep) in [
        (crate_dir().join("examples"), "readme_"),
        (repo_dir().join("examples/readme"), ""),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(keep) {
                files.push(path.canonicalize().unwrap());
            }
        }
    }
    for file in files {
        if !named.contains(&file) {
            problems.push(format!(
                "{} is a README example that no README block names any more: delete it or show it",
                file.display()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n\n"));
}

#[test]
fn the_block_parser_and_the_diff_catch_an_edit() {
    let dir = std::env::temp_dir().join(format!("forkwire-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.rs"), "fn main() {\n    one();\n    two();\n}\n").unwrap();
    std::fs::write(
        dir.join("README.md"),
        "x\n\n<!-- example: a.rs -->\n```rust\nfn main() {\n    one();\n    three();\n}\n```\n\n\
         <!-- example: a.rs (excerpt) -->\n  ```rust\n    one();\n    two();\n  ```\n\n```js\nlet x;\n```\n",
    )
    .unwrap();
    let found = blocks(&dir.join("README.md"));
    assert_eq!(found.len(), 3);
    let edited = mismatch(&found[0]).expect("an edited block is caught");
    assert!(
        edited.contains("    -     three();\n    +     two();\n"),
        "{edited}"
    );
    assert_eq!(mismatch(&found[1]), None);
    let unmarked = mismatch(&found[2]).expect("a block with no marker is caught");
    assert!(
        unmarked.contains("no `<!-- example: path -->`"),
        "{unmarked}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_dependency_lines_name_this_version() {
    // `forkwire = "0.1"` wherever the READMEs or their programs say it.
    let version = env!("CARGO_PKG_VERSION");
    let mut texts: Vec<(String, String)> = readmes()
        .iter()
        .map(|p| (p.display().to_string(), read(p)))
        .collect();
    for entry in std::fs::read_dir(crate_dir().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("readme_")
        {
            texts.push((path.display().to_string(), read(&path)));
        }
    }
    let mut seen = 0;
    for (name, text) in texts {
        for (at, _) in text.match_indices("forkwire = \"") {
            let rest = &text[at + "forkwire = \"".len()..];
            let want = &rest[..rest.find('"').unwrap()];
            let compatible = version == want || version.starts_with(&format!("{want}."));
            assert!(
                compatible,
                "{name}: `forkwire = \"{want}\"` does not match this crate's version {version}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 2, "the install lines were not found");
    assert_eq!(
        read(&repo_dir().join("LICENSE")),
        read(&crate_dir().join("LICENSE")),
        "the crate's LICENSE is a copy of the repository's"
    );
}

// ---------------------------------------------------------------------------
// Running the Rust programs.

/// Runs `program` in `dir` and returns its stdout; fails if it does not
/// exit by itself, successfully, within 30 s.
fn run(program: &Path, dir: &Path) -> String {
    let mut child = std::process::Command::new(program)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not exit by itself within 30 s", program.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().unwrap();
    assert!(status.success(), "{}: {status}\n{out}", program.display());
    out
}

/// What a README program prints: the trailing `// ...` comment of each of
/// its `println!` lines, in order. The comments are what readers go by, so
/// they are what the programs are held to.
fn promised_output(source: &Path) -> String {
    let mut out = String::new();
    for line in read(source).lines() {
        if line.trim_start().starts_with("println!(") {
            let (_, comment) = line.rsplit_once("); // ").unwrap_or_else(|| {
                panic!("{}: `{line}` has no `// output` comment", source.display())
            });
            out.push_str(comment);
            out.push('\n');
        }
    }
    out
}

#[test]
fn readme_worker_answers_a_node_style_parent() {
    let mut child = Command::new(example("readme_worker")).spawn().unwrap();
    for (id, n) in [(1, 21.0), (2, 0.5)] {
        child
            .channel()
            .send(&json!({ "id": id, "data": { "n": n } }))
            .unwrap();
        let reply: Value = child.channel().recv().unwrap().expect("a reply");
        assert_eq!(reply["id"], id);
        assert_eq!(reply["result"].as_f64(), Some(n * 2.0), "{reply}");
    }
    child.channel().disconnect();
    let status = child.wait().unwrap();
    assert_eq!((status.code, status.signal), (Some(0), None));
}

#[test]
fn readme_parent_runs_worker_js() {
    let source = crate_dir().join("examples/readme_parent.rs");
    let out = run(&example("readme_parent"), &crate_dir().join("examples"));
    assert_eq!(out, promised_output(&source));
    assert_eq!(out, "{\"id\":1,\"result\":42}\nSome(0) None\n");
}

#[test]
fn readme_pool_runs_the_serve_worker() {
    let source = crate_dir().join("examples/readme_pool.rs");
    let out = run(&example("readme_pool"), &crate_dir());
    assert_eq!(out, promised_output(&source));
    assert_eq!(
        out,
        "2 + 3 = 5\nunknown request type (ERR_FORKWIRE_REMOTE)\n"
    );
}

#[test]
fn readme_serve_answers_results_and_coded_errors() {
    let mut child = Command::new(example("readme_serve")).spawn().unwrap();
    let requests = [
        json!({ "id": 1, "type": "add", "data": { "a": 2, "b": 3.5 } }),
        json!({ "id": 2, "type": "add", "data": { "a": "two" } }),
        json!({ "id": 3, "type": "mul", "data": null }),
    ];
    for r in &requests {
        child.channel().send(r).unwrap();
    }
    // Handlers run on several threads: replies come in any order.
    let mut replies = BTreeMap::new();
    while replies.len() < requests.len() {
        let reply: Value = child.channel().recv().unwrap().expect("a reply");
        replies.insert(reply["id"].as_u64().unwrap(), reply);
    }
    assert_eq!(replies[&1], json!({ "id": 1, "result": 5.5 }));
    assert_eq!(replies[&2]["error"]["code"], "ERR_INVALID_DATA");
    assert_eq!(
        replies[&3]["error"],
        json!({ "message": "unknown request type", "name": "Error", "code": "E_UNKNOWN" })
    );
    child.channel().disconnect();
    assert!(child.wait().unwrap().success());
}
