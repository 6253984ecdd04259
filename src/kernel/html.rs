//! HTML for notebook front ends: answer tables and the training display.

use crate::ir::report::Table;

/// `<`, `>`, `&` and quotes escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `summary` or `shape` answer as an HTML table: the title as caption,
/// number columns right-aligned, the totals below.
pub fn table(t: &Table) -> String {
    let mut out = String::from("<table class=\"cnnscript\">\n");
    if let Some(title) = &t.title {
        out.push_str(&format!(
            "<caption style=\"text-align:left\"><b>{}</b></caption>\n",
            escape(title)
        ));
    }
    let align = |i: usize| {
        if i >= t.numeric_from {
            " style=\"text-align:right\""
        } else {
            " style=\"text-align:left\""
        }
    };
    out.push_str("<thead><tr>");
    for (i, h) in t.header.iter().enumerate() {
        out.push_str(&format!("<th{}>{}</th>", align(i), escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            out.push_str(&format!(
                "<td{}><code>{}</code></td>",
                align(i),
                escape(cell)
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    if !t.notes.is_empty() {
        out.push_str("<p>");
        let notes: Vec<String> = t.notes.iter().map(|n| escape(n)).collect();
        out.push_str(&notes.join("<br>\n"));
        out.push_str("</p>\n");
    }
    out
}

/// The training display: a progress bar, the status line and the lines
/// `train` printed.
pub fn training(status: &str, done: usize, total: usize, log: &str) -> String {
    let mut out = format!(
        "<div class=\"cnnscript-train\"><progress value=\"{done}\" max=\"{}\"></progress> \
         <code>{}</code>",
        total.max(1),
        escape(status)
    );
    if !log.is_empty() {
        out.push_str(&format!("<pre>{}</pre>", escape(log)));
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_escape_and_align() {
        let t = Table {
            title: Some("Model: m (input 1x1x6x8)".into()),
            header: vec!["Layer".into(), "Params".into()],
            rows: vec![vec!["<x>".into(), "2".into()]],
            numeric_from: 1,
            notes: vec!["Total params: 2".into()],
            text: String::new(),
        };
        let h = table(&t);
        assert!(h.contains("<caption style=\"text-align:left\"><b>Model: m (input 1x1x6x8)</b>"));
        assert!(h.contains("<td style=\"text-align:left\"><code>&lt;x&gt;</code></td>"));
        assert!(h.contains("<td style=\"text-align:right\"><code>2</code></td>"));
        assert!(h.contains("<p>Total params: 2</p>"));
    }

    #[test]
    fn training_shows_progress() {
        let h = training("step 3/10 · loss 0.5", 3, 10, "Step 2, loss 0.7");
        assert!(h.contains("<progress value=\"3\" max=\"10\">"), "{h}");
        assert!(h.contains("<pre>Step 2, loss 0.7</pre>"), "{h}");
    }
}
