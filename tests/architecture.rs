//! The shape of `src/`, checked on every test run: no import cycle between top-level
//! modules, the plumbing layers stay at the bottom, no source file grows past a size a
//! reader can hold, and HTTP handlers stay thin.
//!
//! These read the source as text (rustfmt-formatted, which `cargo fmt --check` in CI
//! guarantees) rather than parsing it, so they need nothing beyond `std`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest source file, in lines, inline test modules included.
const MAX_FILE_LINES: usize = 600;

/// Longest HTTP handler, from its `fn` line to its closing brace: extraction, one service
/// call, and the mapping of the answer fit in this; more means logic in the HTTP layer.
const MAX_HANDLER_LINES: usize = 25;

/// What each plumbing layer may import, and nothing else: the layers everything else is
/// built on must not reach back up into the capabilities.
const LAYERS: &[(&str, &[&str])] = &[
    ("clock", &[]),
    ("ids", &[]),
    ("domain", &["clock"]),
    ("config", &["domain", "clock", "ids"]),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, as paths relative to `src/`, in a stable order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("read a source directory") {
            let path = entry.expect("read a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path.strip_prefix(src_dir()).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

fn read(relative: &Path) -> String {
    fs::read_to_string(src_dir().join(relative)).expect("read a source file")
}

/// The top-level module a file belongs to: `src/<name>.rs` or anything under `src/<name>/`;
/// `None` for the crate roots.
fn top_module(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        _ => Some(first.trim_end_matches(".rs").to_owned()),
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Which lines are test-only: an item after `#[cfg(test)]`, up to the line at the same
/// indentation that closes it (rustfmt puts it there).
fn test_only_lines(lines: &[&str]) -> Vec<bool> {
    let mut test_only = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "#[cfg(test)]" {
            i += 1;
            continue;
        }
        let depth = indent(lines[i]);
        let mut end = i + 1;
        while end < lines.len() && lines[end].trim_start().starts_with("#[") {
            end += 1;
        }
        let opens_block =
            end < lines.len() && lines[end].trim_end().ends_with(['{', '(', '[', '<']);
        if opens_block {
            end += 1;
            while end < lines.len() && !closes_item(lines[end], depth) {
                end += 1;
            }
        }
        for flag in &mut test_only[i..=end.min(lines.len() - 1)] {
            *flag = true;
        }
        i = end + 1;
    }
    test_only
}

/// The line that ends an item begun at indentation `depth`: `}`, `};`, `];` or `);`
/// at that indentation.
fn closes_item(line: &str, depth: usize) -> bool {
    let text = line.trim();
    indent(line) == depth
        && text.starts_with(['}', ']', ')'])
        && (text.ends_with('}') || text.ends_with(';'))
}

/// Files that only exist for tests: `tests.rs` anywhere, and what a `#[cfg(test)] mod x;`
/// declares.
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut test_files: BTreeSet<PathBuf> = files
        .iter()
        .filter(|file| file.file_name().is_some_and(|name| name == "tests.rs"))
        .cloned()
        .collect();
    for file in files {
        let text = read(file);
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2) {
            let Some(name) = declared_module(pair[1]) else {
                continue;
            };
            if pair[0].trim() == "#[cfg(test)]" {
                let dir = module_dir(file);
                test_files.insert(dir.join(format!("{name}.rs")));
                test_files.insert(dir.join(name).join("mod.rs"));
            }
        }
    }
    test_files
}

/// `x` in `mod x;` (with any visibility).
fn declared_module(line: &str) -> Option<&str> {
    let text = line.trim();
    let rest = text.strip_suffix(';')?;
    let name = rest.rsplit_once("mod ")?.1;
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(name)
}

/// Where the files of the modules `file` declares live.
fn module_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("")).to_path_buf();
    match file.file_name().and_then(|name| name.to_str()) {
        Some("mod.rs" | "lib.rs" | "main.rs") => parent,
        Some(name) => parent.join(name.trim_end_matches(".rs")),
        None => parent,
    }
}

/// One line of one file that makes module `from` import module `to`.
#[derive(Clone)]
struct Mention {
    file: PathBuf,
    line: usize,
    text: String,
}

/// Module → imported module → the lines that import it.
type Imports = BTreeMap<String, BTreeMap<String, Vec<Mention>>>;

/// Every import between top-level modules in non-test, non-comment code: a `crate::b`
/// path, or `b` at the top level of a `use crate::{…}` group.
fn imports() -> Imports {
    let files = rust_files(&src_dir());
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module(f)).collect();
    let test_files = test_only_files(&files);
    let mut imports = Imports::new();
    for file in files.iter().filter(|file| !test_files.contains(*file)) {
        let Some(from) = top_module(file) else {
            continue;
        };
        let text = read(file);
        let lines: Vec<&str> = text.lines().collect();
        let test_only = test_only_lines(&lines);
        let mut group_depth = 0_usize;
        for (number, line) in lines.iter().enumerate() {
            let code = line.trim_start();
            if test_only[number] || code.starts_with("//") {
                continue;
            }
            let code = code.split(" //").next().unwrap_or(code);
            let mut named = crate_paths(code);
            named.extend(group_members(code, &mut group_depth));
            for to in named {
                if to != from && modules.contains(&to) {
                    imports
                        .entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_default()
                        .push(Mention {
                            file: file.clone(),
                            line: number + 1,
                            text: line.trim().to_owned(),
                        });
                }
            }
        }
    }
    imports
}

/// `b` for every `crate::b` in the line.
fn crate_paths(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .filter(|(at, _)| {
            !code[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(at, found)| identifier_at(&code[at + found.len()..]))
        .filter(|name| !name.is_empty())
        .collect()
}

fn identifier_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The modules named at the top level of a `use crate::{…}` group, which may span lines:
/// `depth` carries the group's brace depth from line to line (0 outside a group).
fn group_members(code: &str, depth: &mut usize) -> Vec<String> {
    let mut rest = code;
    if *depth == 0 {
        match code.find("crate::{") {
            Some(at) => {
                rest = &code[at + "crate::{".len()..];
                *depth = 1;
            }
            None => return Vec::new(),
        }
    }
    let mut named = Vec::new();
    // rustfmt starts every line of a multi-line group with a member or a closing brace.
    let mut expecting_name = true;
    for (at, c) in rest.char_indices() {
        if *depth == 0 {
            break;
        }
        match c {
            '{' => *depth += 1,
            '}' => *depth -= 1,
            ',' if *depth == 1 => expecting_name = true,
            c if c.is_whitespace() => {}
            _ if *depth == 1 && expecting_name => {
                named.push(identifier_at(&rest[at..]));
                expecting_name = false;
            }
            _ => expecting_name = false,
        }
    }
    named
}

/// The strongly connected components of the import graph that hold more than one module
/// (Tarjan's algorithm).
fn cycles(imports: &Imports) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        imports: &'a Imports,
        next_index: usize,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        components: Vec<Vec<String>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, module: &str) {
            self.index.insert(module.to_owned(), self.next_index);
            self.low.insert(module.to_owned(), self.next_index);
            self.next_index += 1;
            self.stack.push(module.to_owned());
            self.on_stack.insert(module.to_owned());
            let targets: Vec<String> = self
                .imports
                .get(module)
                .map(|to| to.keys().cloned().collect())
                .unwrap_or_default();
            for target in targets {
                if !self.index.contains_key(&target) {
                    self.visit(&target);
                    let low = self.low[module].min(self.low[&target]);
                    self.low.insert(module.to_owned(), low);
                } else if self.on_stack.contains(&target) {
                    let low = self.low[module].min(self.index[&target]);
                    self.low.insert(module.to_owned(), low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(&member);
                    let done = member == module;
                    component.push(member);
                    if done {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.components.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        imports,
        next_index: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for module in imports.keys() {
        if !tarjan.index.contains_key(module) {
            tarjan.visit(module);
        }
    }
    tarjan.components
}

/// A shortest cycle through `start` inside `component`, as the modules in order.
fn cycle_through(imports: &Imports, component: &[String], start: &str) -> Vec<String> {
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = VecDeque::from([start.to_owned()]);
    while let Some(module) = queue.pop_front() {
        for target in imports.get(&module).into_iter().flat_map(|to| to.keys()) {
            if !component.contains(target) || came_from.contains_key(target) {
                continue;
            }
            came_from.insert(target.clone(), module.clone());
            if target == start {
                let mut path = vec![start.to_owned()];
                let mut at = came_from[start].clone();
                while at != start {
                    path.push(at.clone());
                    at = came_from[&at].clone();
                }
                path.push(start.to_owned());
                path.reverse();
                return path;
            }
            queue.push_back(target.clone());
        }
    }
    vec![start.to_owned()]
}

fn describe_mentions(out: &mut String, mentions: &[Mention]) {
    for mention in mentions {
        out.push_str(&format!(
            "      src/{}:{}: {}\n",
            mention.file.display(),
            mention.line,
            mention.text
        ));
    }
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let imports = imports();
    let mut report = String::new();
    for component in cycles(&imports) {
        let path = cycle_through(&imports, &component, &component[0]);
        report.push_str(&format!(
            "modules {{{}}} import each other; one cycle: {}\n",
            component.join(", "),
            path.join(" -> ")
        ));
        for edge in path.windows(2) {
            report.push_str(&format!("  {} -> {} because of:\n", edge[0], edge[1]));
            describe_mentions(&mut report, &imports[&edge[0]][&edge[1]]);
        }
    }
    assert!(
        report.is_empty(),
        "import cycles between top-level modules of src/ (break each by moving the shared \
         piece down a layer, or by inverting the dependency):\n{report}"
    );
}

#[test]
fn plumbing_layers_import_only_what_lies_below_them() {
    let imports = imports();
    let mut report = String::new();
    for (layer, allowed) in LAYERS {
        for (target, mentions) in imports.get(*layer).into_iter().flatten() {
            if !allowed.contains(&target.as_str()) {
                report.push_str(&format!(
                    "{layer} imports {target} (it may import only {allowed:?}):\n"
                ));
                describe_mentions(&mut report, mentions);
            }
        }
    }
    assert!(report.is_empty(), "layering broken:\n{report}");
}

#[test]
fn no_source_file_is_over_the_line_limit() {
    let mut report = String::new();
    for file in rust_files(&src_dir()) {
        if file.file_name().is_some_and(|name| name == "tests.rs") {
            continue;
        }
        let lines = read(&file).lines().count();
        if lines > MAX_FILE_LINES {
            report.push_str(&format!(
                "src/{} has {lines} lines (at most {MAX_FILE_LINES}): split it along its seams \
                 into submodules\n",
                file.display()
            ));
        }
    }
    assert!(report.is_empty(), "{report}");
}

#[test]
fn http_handlers_are_short() {
    let routes = src_dir().join("http").join("routes");
    let mut report = String::new();
    for file in rust_files(&routes) {
        let text = read(&file);
        let lines: Vec<&str> = text.lines().collect();
        for (start, line) in lines.iter().enumerate() {
            let Some(name) = async_fn_name(line) else {
                continue;
            };
            let end = lines[start..]
                .iter()
                .position(|line| *line == "}")
                .map_or(lines.len(), |offset| start + offset);
            let length = end - start + 1;
            if length > MAX_HANDLER_LINES {
                report.push_str(&format!(
                    "src/{}:{}: {name} is {length} lines (at most {MAX_HANDLER_LINES}): move \
                     validation into a request type or extractor and decisions into the \
                     service\n      {}\n",
                    file.display(),
                    start + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(report.is_empty(), "handlers too long:\n{report}");
}

/// The name of the `async fn` a line at column 0 opens, with any visibility.
fn async_fn_name(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub(super) "))
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    let name = identifier_at(rest.strip_prefix("async fn ")?);
    (!name.is_empty()).then_some(name)
}
