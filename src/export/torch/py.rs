//! Small helpers that write Python: literals, legal names, indented code.

use std::collections::{HashMap, HashSet};

/// Python's keywords (3.11), soft keywords included: never a variable name.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "case", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if",
    "import", "in", "is", "lambda", "match", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "while", "with", "yield",
];

/// Python's builtin functions: a script name that equals one is renamed, so
/// the generated code can still call them.
const BUILTINS: &[&str] = &[
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "copyright",
    "credits",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "exit",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "license",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "quit",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
];

/// Attributes every `nn.Sequential` already has (torch 2.x), plus the class
/// attribute the generated modules add: a submodule cannot take these names.
const MODULE_ATTRS: &[&str] = &[
    "_apply",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_buffers",
    "_call_impl",
    "_compiled_call_impl",
    "_forward_hooks",
    "_forward_hooks_always_called",
    "_forward_hooks_with_kwargs",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_get_backward_hooks",
    "_get_backward_pre_hooks",
    "_get_item_by_idx",
    "_get_name",
    "_is_full_backward_hook",
    "_load_from_state_dict",
    "_load_state_dict_post_hooks",
    "_load_state_dict_pre_hooks",
    "_maybe_warn_non_full_backward_hook",
    "_modules",
    "_named_members",
    "_non_persistent_buffers_set",
    "_parameters",
    "_register_load_state_dict_pre_hook",
    "_register_state_dict_hook",
    "_replicate_for_data_parallel",
    "_save_to_state_dict",
    "_slow_forward",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_version",
    "_wrapped_call_impl",
    "T_destination",
    "add_module",
    "append",
    "apply",
    "bfloat16",
    "buffers",
    "call_super_init",
    "children",
    "compile",
    "cpu",
    "cuda",
    "double",
    "dump_patches",
    "eval",
    "extend",
    "extra_repr",
    "float",
    "forward",
    "get_buffer",
    "get_extra_state",
    "get_parameter",
    "get_submodule",
    "half",
    "input_shape",
    "insert",
    "ipu",
    "load_state_dict",
    "modules",
    "mtia",
    "named_buffers",
    "named_children",
    "named_modules",
    "named_parameters",
    "parameters",
    "pop",
    "register_backward_hook",
    "register_buffer",
    "register_forward_hook",
    "register_forward_pre_hook",
    "register_full_backward_hook",
    "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook",
    "register_module",
    "register_parameter",
    "register_state_dict_post_hook",
    "register_state_dict_pre_hook",
    "requires_grad_",
    "set_extra_state",
    "set_submodule",
    "share_memory",
    "state_dict",
    "to",
    "to_empty",
    "train",
    "training",
    "type",
    "unused_nodes",
    "xpu",
    "zero_grad",
];

/// Whether `name` is a Python keyword.
pub fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Whether a submodule may be registered under `name` (`add_module` refuses
/// names that are already attributes of a module).
pub fn is_free_module_name(name: &str) -> bool {
    !name.starts_with("__") && !MODULE_ATTRS.contains(&name)
}

/// Whether `self.NAME` can be written (otherwise `getattr(self, "NAME")`).
pub fn is_attribute_name(name: &str) -> bool {
    !is_keyword(name)
}

/// A Python string literal (double quotes, escapes as needed).
pub fn str_lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A multi-line text as a triple-quoted Python literal whose value is exactly `s`.
pub fn text_block(s: &str) -> String {
    let body = s.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"");
    let body = if body.ends_with('"') {
        format!("{}\\\"", &body[..body.len() - 1])
    } else {
        body
    };
    format!("\"\"\"\\\n{body}\"\"\"")
}

/// A tuple of sizes: `(2, 1, 28, 28)`, `(4,)`.
pub fn tuple(sizes: &[u64]) -> String {
    let parts: Vec<String> = sizes.iter().map(u64::to_string).collect();
    match parts.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", parts.join(", ")),
    }
}

/// Python arguments as a tuple: `6, 8` → `(6, 8)`, `6` → `(6,)`.
pub fn tuple_text(args: &str) -> String {
    if args.contains(',') {
        format!("({args})")
    } else {
        format!("({args},)")
    }
}

/// A model's class name: `resnet_block` → `ResnetBlock`.
pub fn camel(name: &str) -> String {
    let mut out = String::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Model");
    }
    out
}

/// Python names for script names: the same script name always gets the same
/// Python name; keywords, builtins and the generated code's own names are
/// avoided by appending `_`.
#[derive(Debug, Default)]
pub struct Names {
    reserved: HashSet<String>,
    given: HashMap<String, String>,
    used: HashSet<String>,
}

impl Names {
    /// Names that avoid keywords, builtins and `reserved`.
    pub fn new<'a>(reserved: impl IntoIterator<Item = &'a str>) -> Names {
        let mut set: HashSet<String> = reserved.into_iter().map(str::to_string).collect();
        set.extend(KEYWORDS.iter().chain(BUILTINS).map(|s| s.to_string()));
        Names {
            reserved: set,
            given: HashMap::new(),
            used: HashSet::new(),
        }
    }

    /// The Python name of a script name.
    pub fn get(&mut self, name: &str) -> String {
        if let Some(n) = self.given.get(name) {
            return n.clone();
        }
        let mut out = name.to_string();
        while self.reserved.contains(&out) || self.used.contains(&out) {
            out.push('_');
        }
        self.used.insert(out.clone());
        self.given.insert(name.to_string(), out.clone());
        out
    }
}

/// Python source built line by line with indentation.
#[derive(Debug, Default)]
pub struct Code {
    text: String,
    indent: usize,
}

impl Code {
    /// Empty source.
    pub fn new() -> Code {
        Code::default()
    }
    /// One line at the current indentation (an empty line stays empty).
    pub fn line(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        for l in line.split('\n') {
            if !l.is_empty() {
                self.text.push_str(&"    ".repeat(self.indent));
            }
            self.text.push_str(l);
            self.text.push('\n');
        }
    }
    /// An empty line.
    pub fn blank(&mut self) {
        self.text.push('\n');
    }
    /// Columns taken by the current indentation.
    pub fn width(&self) -> usize {
        4 * self.indent
    }
    /// Lines after this are one level deeper.
    pub fn indent(&mut self) {
        self.indent += 1;
    }
    /// Back one level.
    pub fn dedent(&mut self) {
        self.indent = self.indent.saturating_sub(1);
    }
    /// The source text.
    pub fn finish(self) -> String {
        self.text
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

/// A statement's text on one line (whitespace runs collapsed, comments
/// dropped), cut to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let joined = text
        .lines()
        .map(|l| strip_comment(l).trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let collapsed = joined.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > max {
        let cut: String = collapsed.chars().take(max.saturating_sub(3)).collect();
        format!("{cut}...")
    } else {
        collapsed
    }
}

/// A line without its `#` comment (a `#` inside a string stays).
fn strip_comment(line: &str) -> &str {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_str => escaped = !escaped,
            '"' if !escaped => in_str = !in_str,
            '#' if !in_str => return &line[..i],
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(str_lit("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(
            text_block("a\\b\"\"\"c\""),
            "\"\"\"\\\na\\\\b\\\"\\\"\\\"c\\\"\"\"\""
        );
    }

    #[test]
    fn class_names() {
        assert_eq!(camel("resnet_block"), "ResnetBlock");
        assert_eq!(camel("m1"), "M1");
        assert_eq!(camel("_"), "Model");
        assert_eq!(camel("_3d"), "Model3d");
    }

    #[test]
    fn names_avoid_keywords_builtins_and_each_other() {
        let mut n = Names::new(["split"]);
        assert_eq!(n.get("X"), "X");
        assert_eq!(n.get("max"), "max_");
        assert_eq!(n.get("max_"), "max__");
        assert_eq!(n.get("max"), "max_");
        assert_eq!(n.get("in"), "in_");
        assert_eq!(n.get("split"), "split_");
    }

    #[test]
    fn lines_and_columns() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(
            one_line("model m(x: 4) {  # c\n  conv(k=3)\n}", 80),
            "model m(x: 4) { conv(k=3) }"
        );
        assert_eq!(one_line("save Y \"a#b\"  # note", 80), "save Y \"a#b\"");
        assert_eq!(one_line("abcdefgh", 6), "abc...");
    }

    #[test]
    fn code_indents() {
        let mut c = Code::new();
        c.line("def f():");
        c.indent();
        c.line("a = 1\nreturn a");
        c.dedent();
        c.blank();
        assert_eq!(c.finish(), "def f():\n    a = 1\n    return a\n\n");
    }
}
